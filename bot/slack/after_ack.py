"""Work that follows an acknowledgement, started so that acks still to be made come
first: during a burst of commands the work waits until no new ack came for a moment
(never long), so it does not take the event loop and the GIL from those acks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

# Work after an ack waits for a burst of acks to pass: this long without a new one,
QUIET_S = 0.01
# but never longer than this.
BURST_WAIT_S = 0.25


class AfterAck:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._last_ack = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    def acked(self) -> None:
        """An acknowledgement was just sent."""
        self._last_ack = self.clock()

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` once the acks have settled; a failure is logged, not raised."""
        task = asyncio.create_task(self._when_acks_settle(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Return once every piece of work started here so far (and any it started) is done."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _when_acks_settle(self, work: Coroutine[Any, Any, None]) -> None:
        until = self.clock() + BURST_WAIT_S
        while self.clock() < until and self.clock() - self._last_ack < QUIET_S:
            await asyncio.sleep(QUIET_S / 2)
        try:
            await work
        except Exception:
            log.exception("answering a Slack command or event failed after its ack")
