"""At most `workers` runs at once in one process, scheduled and chat-started alike.

Every run takes a slot before its row is written and gives it back when it ends. A
run that finds every slot taken waits, in order of arrival within its line: one line
for scheduled runs (fires, batch members, start-up runs), one for runs started from
chat. Chat's fair share is half the slots (at least one): while scheduled runs wait,
a chat run is let in ahead of them as long as fewer than its share of chat runs are
running, so a night's queue holds `/run` up for at most the end of one run, and a
burst of chat runs cannot starve the night either. With no one waiting in the other
line, either line may use every slot.

Plain threads and one condition: runs block anyway (subprocesses, git, the database).
`close()` (shutdown) wakes every waiter, who then gives up without starting.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Line = Literal["scheduled", "chat"]
LINES: tuple[Line, ...] = ("scheduled", "chat")


class SlotsClosed(Exception):
    """The process is stopping: this run, waiting since `queued_at`, never started."""

    def __init__(self, queued_at: datetime) -> None:
        super().__init__("opsdesk stopped before a worker was free")
        self.queued_at = queued_at


@dataclass(frozen=True)
class Waiting:
    """A run waiting for a slot: what it is, its line, since when."""

    job: str
    line: Line
    queued_at: datetime
    ticket: int


def default_workers() -> int:
    return os.cpu_count() or 1


class WorkSlots:
    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers or default_workers()
        self._changed = threading.Condition()
        self._waiting: dict[Line, deque[Waiting]] = {line: deque() for line in LINES}
        self._running: dict[Line, int] = dict.fromkeys(LINES, 0)
        self._tickets = itertools.count(1)
        self._closed = False
        # Waits of runs that did start, for /metrics: (count, seconds) per line.
        self._waited: dict[Line, tuple[int, float]] = dict.fromkeys(LINES, (0, 0.0))

    @property
    def workers(self) -> int:
        return self._workers

    def set_workers(self, workers: int) -> None:
        with self._changed:
            self._workers = max(1, workers)
            self._changed.notify_all()

    @property
    def chat_share(self) -> int:
        return max(1, self._workers // 2)

    def enqueue(self, job: str, line: Line, queued_at: datetime) -> Waiting:
        """Take a place in `line` now (at a fire, in fire order); `hold` it later."""
        me = Waiting(job, line, queued_at, next(self._tickets))
        with self._changed:
            self._waiting[line].append(me)
            self._changed.notify_all()
        return me

    def withdraw(self, place: Waiting) -> None:
        """Give up a place that will not be held (the fire was not run after all)."""
        with self._changed:
            if place in self._waiting[place.line]:
                self._waiting[place.line].remove(place)
            self._changed.notify_all()

    @contextmanager
    def hold(self, place: Waiting, clock: Callable[[], datetime]) -> Iterator[datetime]:
        """Wait for `place`'s turn, hold a slot for the block; yields when it started.
        Raises SlotsClosed, without running the block, when the process stops first."""
        line = place.line
        with self._changed:
            try:
                self._changed.wait_for(lambda: self._closed or self._next() is place)
            finally:
                self.withdraw(place)
            if self._closed:
                raise SlotsClosed(place.queued_at)
            self._running[line] += 1
        started_at = clock()
        with self._changed:
            count, seconds = self._waited[line]
            waited = (started_at - place.queued_at).total_seconds()
            self._waited[line] = (count + 1, seconds + waited)
            self._changed.notify_all()  # the next in line may fit too
        try:
            yield started_at
        finally:
            with self._changed:
                self._running[line] -= 1
                self._changed.notify_all()

    def _next(self) -> Waiting | None:
        """Who takes the next free slot (None: no slot is free or no one waits)."""
        if sum(self._running.values()) >= self._workers:
            return None
        chat, scheduled = self._waiting["chat"], self._waiting["scheduled"]
        if chat and (not scheduled or self._running["chat"] < self.chat_share):
            return chat[0]
        return scheduled[0] if scheduled else None

    def close(self) -> None:
        """Shutdown: every run still waiting gives up (SlotsClosed); none starts."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    # --- what /metrics, /health and the page show ---------------------------------
    def waiting(self) -> list[Waiting]:
        """Runs waiting for a slot, longest-waiting first."""
        with self._changed:
            found = [w for line in LINES for w in self._waiting[line]]
        return sorted(found, key=lambda w: w.ticket)

    def running(self) -> dict[Line, int]:
        with self._changed:
            return dict(self._running)

    def waited(self) -> dict[Line, tuple[int, float]]:
        """Per line: runs that waited for their slot and started, and their seconds
        of waiting in all (this process since it started)."""
        with self._changed:
            return dict(self._waited)

    def wait_until(self, condition: Callable[[WorkSlots], bool], timeout: float) -> bool:
        """Block until `condition(self)` holds after some change (a run queued, started
        or ended), or `timeout`; for tests and benches that wait for a signal."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self), timeout)
