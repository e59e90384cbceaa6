"""How many calls of one review may be at the model server at once.

    gate = Gate(4)
    with gate.slot(deadline):        # waits while `limit` calls are in flight
        ... POST ...
    gate.busy() / gate.served()      # what the server said

The limit starts at `[reviewer.llm] parallel`. A server that answers 429 or 503
("too many requests", "overloaded") halves it (never below 1); each run of `limit`
answers in a row raises it by one again, up to where it started. So a review that
asks a busy server too much slows down instead of failing, and speeds up again when
the server keeps up. Thread-safe: every call of a review shares one gate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class SlotTimeout(Exception):
    """The deadline passed while waiting for a free slot."""


class Slot:
    """One call's hold on the gate; `shared` once another call held one beside it
    (a busy answer then says the review asked too much, not that the server is down)."""

    shared = False


class Gate:
    def __init__(self, limit: int) -> None:
        self.most = max(limit, 1)
        self.limit = self.most
        self.in_flight = 0
        self._held: set[Slot] = set()
        self._served_in_a_row = 0
        self._changed = threading.Condition()

    @contextmanager
    def slot(self, deadline: float = math.inf) -> Iterator[Slot]:
        """Hold one of `limit` slots, waiting at most until the monotonic `deadline`."""
        held = Slot()
        with self._changed:
            while self.in_flight >= self.limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SlotTimeout
                self._changed.wait(left if math.isfinite(left) else None)
            held.shared = bool(self._held)
            for other in self._held:
                other.shared = True
            self._held.add(held)
            self.in_flight += 1
        try:
            yield held
        finally:
            with self._changed:
                self._held.discard(held)
                self.in_flight -= 1
                self._changed.notify_all()

    def busy(self) -> None:
        """The server said it has too much to do: fewer calls at once."""
        with self._changed:
            self.limit = max(self.limit // 2, 1)
            self._served_in_a_row = 0

    def served(self) -> None:
        """An answer came back: after `limit` in a row, one more call at once."""
        with self._changed:
            self._served_in_a_row += 1
            if self.limit < self.most and self._served_in_a_row >= self.limit:
                self.limit += 1
                self._served_in_a_row = 0
                self._changed.notify_all()
