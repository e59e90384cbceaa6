"""`opsdesk run` as a child process whose log a test reads as it comes: a reader
thread keeps every stderr line (so the pipe never fills) and wakes whoever waits for
one. For tests that run several replicas, cut their database or stop them mid-way."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.cli import ROOT
from tests.support.waiting import HANG_GUARD_S

# One condition for every process's log, so a test can wait for a line from any of them.
_NEW_LINE = threading.Condition()


class OpsdeskProcess:
    """One `opsdesk run --config CONFIG`; `lines` is its log so far."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, cwd=ROOT, env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.lines: list[str] = []
        self._new_line = _NEW_LINE
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._new_line:
                self.lines.append(line)
                self._new_line.notify_all()
        with self._new_line:
            self.lines.append("")  # the end: nothing more will come
            self._new_line.notify_all()

    def mark(self) -> int:
        """Where the log is now: `wait_for(..., after=mark)` looks only past it."""
        with self._new_line:
            return len(self.lines)

    def wait_for(self, pattern: str, after: int = 0, timeout: float = HANG_GUARD_S) -> str:
        """The first log line past `after` matching `pattern`, as soon as it is logged."""
        _, line = first_line(pattern, [(self, after)], timeout)
        return line

    def matching(self, pattern: str, after: int = 0) -> list[str]:
        with self._new_line:
            return [line for line in self.lines[after:] if re.search(pattern, line)]

    def log(self) -> str:
        with self._new_line:
            return "".join(self.lines[-80:])

    def stop(self, timeout: float = HANG_GUARD_S) -> int:
        """SIGTERM, and the exit code once it has ended (SIGKILL after `timeout`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"still running {timeout}s after SIGTERM:\n{self.log()}") from None
        finally:
            self._reader.join(timeout=5)

    def kill(self) -> None:
        """kill -9: no goodbye, no clean-up."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(timeout=5)


def first_line(
    pattern: str, watched: list[tuple[OpsdeskProcess, int]], timeout: float = HANG_GUARD_S
) -> tuple[OpsdeskProcess, str]:
    """The first of `watched` processes to log a line matching `pattern` past its mark
    (whichever is seen first once one has), and that line."""
    found = re.compile(pattern)
    deadline = time.monotonic() + timeout
    with _NEW_LINE:
        while True:
            for process, mark in watched:
                for line in process.lines[mark:]:
                    if found.search(line):
                        return process, line
                    if line == "" and len(watched) == 1:
                        raise AssertionError(f"ended without {pattern!r}:\n{process.log()}")
            remaining = deadline - time.monotonic()
            logs = "\n---\n".join(process.log() for process, _ in watched)
            assert remaining > 0, f"no line matching {pattern!r}:\n{logs}"
            _NEW_LINE.wait(remaining)


@contextmanager
def opsdesk_processes(
    *configs: Path, env: dict[str, str] | None = None
) -> Iterator[list[OpsdeskProcess]]:
    """One process per config, each started once the one before it logged its start
    line; all of them ended (SIGTERM, then SIGKILL) when the block ends."""
    started: list[OpsdeskProcess] = []
    try:
        for config in configs:
            process = OpsdeskProcess(config, env)
            started.append(process)
            process.wait_for(" started: ")
        yield started
    finally:
        for process in started:
            if process.process.poll() is None:
                process.process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.process.wait(HANG_GUARD_S)
            except subprocess.TimeoutExpired:
                process.kill()


def config_on(tmp_path: Path, database_url: str, rest: str = "") -> Path:
    """An opsdesk.toml on `database_url` (often a proxy a test cuts), data in
    tmp_path/data, no operator page; `rest` is the rest of the file."""
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'database_url = "{database_url}"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        "[operator]\nenabled = false\n" + rest
    )
    return config
