"""The process's one stop signal for every run, scheduled or started from chat.

The scheduler and the chat work queue hand the same `RunControl` to every run they
start: on shutdown both wait the same grace, then `cancel` is set for all of them,
and whatever is still running is recorded `interrupted` from `active()`.
"""

from __future__ import annotations

import threading

from jobs.core.work_slots import WorkSlots


class RunControl:
    def __init__(self) -> None:
        self.cancel = threading.Event()
        self._lock = threading.Condition()
        self._active: set[int] = set()
        # The process's bound on runs at once, shared by both as well.
        self.slots = WorkSlots()

    def started(self, run_id: int) -> None:
        with self._lock:
            self._active.add(run_id)

    def finished(self, run_id: int) -> None:
        with self._lock:
            self._active.discard(run_id)
            self._lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no run is active (True) or `timeout` passes (False)."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._active, timeout)

    def active(self) -> list[int]:
        """Run ids started and not finished, oldest first."""
        with self._lock:
            return sorted(self._active)
