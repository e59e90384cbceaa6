"""Chat is optional for the work: each adapter connects in the background, with a
bounded backoff, while jobs and reviews already run.

A `ChatLink` keeps trying one adapter until it is up, and says where it stands for
health ("slack: connecting, attempt 7, last error …"). Only an answer that means
*never* ends the trying (a token the platform rejects, a port that cannot be
listened on): that stops the process with a clear message and exit code 2. The
outbox sends to a platform only while its adapter is connected, so posts wait in
storage instead of spending attempts on a platform that is not there."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobs.core.scrub import scrub_cut

if TYPE_CHECKING:
    from bot.adapters import ChatAdapter
    from jobs.outbox.delivery import OutboxSender

log = logging.getLogger(__name__)

# One connection attempt may take this long (a platform that accepts the connection
# and then says nothing must not hold the attempt forever).
CONNECT_DEADLINE_S = 30.0
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 300.0


def retry_delay(attempt: int, first: float = FIRST_RETRY_S, cap: float = MAX_RETRY_S) -> float:
    """Seconds before the attempt after `attempt` (1-based): 1, 2, 4, … at most 5 min."""
    return float(min(cap, first * 2 ** max(0, attempt - 1)))


def worth_logging(attempt: int) -> bool:
    """Attempts 1, 2, 4, 8, …: a platform down for a day writes a few dozen lines,
    not thousands."""
    return attempt & (attempt - 1) == 0


@dataclass
class ChatLink:
    """One adapter, connecting until it is up; `refused` holds why it never will."""

    adapter: ChatAdapter
    sender: OutboxSender
    state: str = "connecting"  # connecting | up | stopped
    attempt: int = 0
    last_error: str | None = None
    refused: str | None = None
    # Writes where the link stands for health; awaited at each change, before it is
    # logged (so a reader of the log finds health saying the same).
    report: Callable[[ChatLink], Awaitable[None]] | None = None
    # Set once the first attempt has ended, either way: the start line waits for it.
    first_try: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _started: bool = field(default=False, repr=False)

    @property
    def platform(self) -> str:
        return self.adapter.platform

    async def connect(self, stop: asyncio.Event, first_retry: float = FIRST_RETRY_S) -> None:
        """Try until connected, refused or `stop` is set."""
        while not stop.is_set():
            self.attempt += 1
            try:
                await asyncio.wait_for(self.adapter.start(), CONNECT_DEADLINE_S)
            except Exception as exc:
                refusal = self.adapter.refusal(exc)
                if refusal is not None:
                    self.refused = refusal
                    self.state = "stopped"
                    log.error("%s: %s", self.platform, refusal)
                    self.first_try.set()
                    return
                self.last_error = one_line(exc)
                delay = retry_delay(self.attempt, first_retry)
                await self._report()
                if worth_logging(self.attempt):
                    log.warning(
                        "%s: not connected (attempt %d: %s); trying again in %.0fs",
                        self.platform,
                        self.attempt,
                        self.last_error,
                        delay,
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                continue
            self._started = True
            self.state = "up"
            self.sender.deliverers[self.platform] = self.adapter.deliverer
            await self._report()
            if self.attempt > 1:
                log.info("%s: connected after %d attempts", self.platform, self.attempt)
            return

    async def _report(self) -> None:
        if self.report is not None:
            await self.report(self)
        self.first_try.set()

    def stop_sending(self) -> None:
        """The outbox sends nothing more through this adapter (it is about to stop)."""
        self.sender.deliverers.pop(self.platform, None)

    async def stop(self) -> None:
        self.stop_sending()
        self.state = "stopped"
        if self._started:
            await self.adapter.stop()

    def status(self) -> tuple[str, dict[str, object]]:
        """(heartbeat status, detail) for health."""
        if self.state == "up" and not self.adapter.connected():
            return "down", {}
        if self.state == "connecting":
            return "connecting", {"attempt": self.attempt, "last_error": self.last_error}
        return self.state, {}


def one_line(exc: BaseException) -> str:
    """An exception as one scrubbed line for the log and health (its type, and its
    first line when it has one)."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    first = (str(exc).strip().splitlines() or [""])[0]
    text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return scrub_cut(text, 200)
