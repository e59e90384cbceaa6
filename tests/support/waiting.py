"""Waiting for a positive signal, never for a fixed time: a log line, a line a process
prints, a database commit that makes a condition true, a line written to a FIFO, a
process's end. Each wait has a generous deadline that only guards against a hang."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

HANG_GUARD_S = 60.0


class LogWatch(logging.Handler):
    """The records of one logger (and its children) from the moment it is attached;
    `wait_for` returns the first matching one as soon as it is logged, from any
    thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._logged = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._logged:
            self.records.append(record)
            self._logged.notify_all()

    def matching(self, pattern: str) -> list[logging.LogRecord]:
        with self._logged:
            return [r for r in self.records if re.search(pattern, r.getMessage())]

    def wait_for(self, pattern: str, timeout: float = HANG_GUARD_S) -> logging.LogRecord:
        with self._logged:
            found = self._logged.wait_for(lambda: self.matching(pattern), timeout)
        assert found, f"no log line matching {pattern!r}; seen {self.messages()}"
        return found[0]

    async def logged(self, pattern: str, timeout: float = HANG_GUARD_S) -> logging.LogRecord:
        """`wait_for` without blocking the event loop (the line may come from it)."""
        return await asyncio.to_thread(self.wait_for, pattern, timeout)

    def messages(self) -> list[str]:
        with self._logged:
            return [r.getMessage() for r in self.records]


@contextmanager
def watching(logger: str, level: int = logging.DEBUG) -> Iterator[LogWatch]:
    """A LogWatch on `logger` while the block runs; the logger lets `level` through."""
    watch = LogWatch()
    target = logging.getLogger(logger)
    old_level = target.level
    target.setLevel(level)
    target.addHandler(watch)
    try:
        yield watch
    finally:
        target.removeHandler(watch)
        target.setLevel(old_level)


class Commits:
    """Counts every connection handed back to its pool, on every engine of this
    process, so a test can wait until a write made a condition true (a row appeared, a
    status changed) instead of polling on a timer. A connection goes back after its
    transaction has committed; SQLAlchemy's own "commit" event comes before the
    database has committed, too early to look."""

    def __init__(self) -> None:
        self._committed = threading.Condition()
        self.count = 0
        self._looking: int | None = None  # the thread checking the condition

    def _on_checkin(self, _connection: Any, _record: Any) -> None:
        if threading.get_ident() == self._looking:
            return  # the condition's own reads wake nobody
        with self._committed:
            self.count += 1
            self._committed.notify_all()

    def wait_until(self, condition: Callable[[], object], timeout: float = HANG_GUARD_S) -> None:
        """Return once `condition()` is true, checking it again after each write."""
        self._looking = threading.get_ident()
        deadline = time.monotonic() + timeout
        while True:
            with self._committed:
                seen = self.count
            if condition():
                return
            with self._committed:
                remaining = deadline - time.monotonic()
                assert remaining > 0, "the condition did not come true"
                self._committed.wait_for(self._since(seen), remaining)

    def _since(self, seen: int) -> Callable[[], bool]:
        """True once a commit after the `seen`-th has been made."""
        return lambda: self.count != seen

    async def until(self, condition: Callable[[], object], timeout: float = HANG_GUARD_S) -> None:
        await asyncio.to_thread(self.wait_until, condition, timeout)


@contextmanager
def commits() -> Iterator[Commits]:
    """Writes on any engine of this process while the block runs."""
    counter = Commits()
    event.listen(Pool, "checkin", counter._on_checkin)
    try:
        yield counter
    finally:
        event.remove(Pool, "checkin", counter._on_checkin)


def read_until(fd: int, wanted: str, timeout: float = HANG_GUARD_S) -> str:
    """What the file descriptor `fd` gives until `wanted` has appeared in it (or it
    closed); fails after `timeout`."""
    seen = ""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"waited for {wanted!r}; saw {seen[-2000:]!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side of a terminal closed
            break
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
    return seen


def until_waiting_for_input(pid: int, timeout: float = HANG_GUARD_S) -> None:
    """Until process `pid` sleeps in select/poll, waiting for input, as the kernel
    says (`/proc/PID/wchan`). A key or a signal sent then finds it there. Python's
    readline notices SIGINT only when it interrupts that wait: one that comes while it
    is still drawing the last key is held until the next key."""
    deadline = time.monotonic() + timeout
    wchan = Path(f"/proc/{pid}/wchan")
    while "poll" not in wchan.read_text() and "select" not in wchan.read_text():
        assert time.monotonic() < deadline, f"process {pid} never waited for input"
        os.sched_yield()


def fifo_line(path: Path, timeout: float = HANG_GUARD_S) -> str:
    """The first line a process writes into the FIFO at `path` (made here if missing)."""
    if not path.exists():
        os.mkfifo(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return read_until(fd, "\n", timeout).partition("\n")[0]
    finally:
        os.close(fd)


def wait_for_exit(pid: int, timeout: float = HANG_GUARD_S) -> None:
    """Return once process `pid` (not necessarily our child) has ended."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # gone already
    try:
        ready, _, _ = select.select([handle], [], [], timeout)
        assert ready, f"process {pid} still runs after {timeout}s"
    finally:
        os.close(handle)
