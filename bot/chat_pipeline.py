"""One way from a chat command or a button press to its answer, for every adapter.

An adapter translates its platform's event into an `Arrival` (who, what, the
platform's id for this delivery) and renders the Reply it gets back; everything in
between is here, once:

1. access: a stranger costs nothing (no row, no thread) and hears one refusal an hour;
2. triage: an answer that needs no I/O (help, a typo, a refusal) is given at once;
3. the lane: slow commands (a review) apart from quick ones;
4. a place in line, taken before the acknowledgement says how far back it is;
5. after the acknowledgement, in a work-queue worker: the redelivery check in
   storage, then the handler.

`take` is the acknowledgement's part: no await, no database, no thread (Slack gives
3 s, and a full thread pool once made it miss them). `answer` and `press` run after
it. A platform's redelivery is recognised by its id in storage, never by trusting
that the first delivery arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from bot.work_queue import Lane, QueueFull, WorkInterrupted, WorkQueue
from handlers.access import Caller, Role, refusal_text
from handlers.refusals import RefusalLimiter
from handlers.router import Router
from jobs.core.reply import Reply
from storage.durable import is_unavailable
from storage.inbound import first_delivery
from storage.leadership import one_line

log = logging.getLogger(__name__)

T = TypeVar("T")
# What an asker may be told while their command waits or runs.
Waiting = Literal["queued", "working"]

INTERRUPTED = Reply.error(
    "opsdesk was stopped before your command finished (a restart or shutdown); "
    "any job it started is recorded as interrupted. Send it again once opsdesk is back."
)


def busy(what: str) -> Reply:
    return Reply.error(f"opsdesk is busy with other {what} right now; send it again in a minute.")


@dataclass(frozen=True)
class Arrival:
    """A command line or a button payload, as the adapter translated it."""

    caller: Caller
    text: str  # "/review api" or "fb:12:h"
    key: str = ""  # the platform's id for this delivery (de-duplication); "" when none
    retry: bool = False  # the platform says it delivers this again


@dataclass(frozen=True)
class Ticket:
    """What `take` decided about a command, without I/O."""

    arrival: Arrival
    now: Reply | None = None  # the answer, ready at once; None with no lane: say nothing
    lane: Lane | None = None  # the lane holding a place for its work; None: no work
    ahead: int | None = None  # how many waited before it in that lane

    @property
    def waiting(self) -> Waiting | None:
        """What to tell the asker until the answer comes: how far back the work waits,
        that a slow command is being worked on, or nothing (quick work; a redelivery,
        whose first delivery said it)."""
        if self.lane is None or self.arrival.retry:
            return None
        if self.ahead is not None:
            return "queued"
        return "working" if self.lane == "slow" else None


class ChatPipeline:
    """The steps between an adapter and the router, for one platform."""

    def __init__(self, router: Router, platform: str, queue: WorkQueue | None = None) -> None:
        self.router = router
        self.platform = platform
        # Quick and slow commands in separate lanes: a slow /review in one chat never
        # delays a quick /health in another.
        self.queue = queue or WorkQueue(router.context.run_control)
        self.refusals = RefusalLimiter()

    def take(self, arrival: Arrival) -> Ticket:
        """On the acknowledgement's path: an answer now, or a place in a lane."""
        if self.router.role(arrival.caller) is Role.NONE:
            # No key: a stranger's delivery is never recorded (strangers cost nothing).
            return Ticket(replace(arrival, key=""), now=self._refusal_once(arrival.caller))
        triaged = self.router.triage(arrival.caller, arrival.text)
        if isinstance(triaged, Reply):
            return Ticket(arrival, now=triaged)
        lane: Lane = "slow" if triaged.slow else "quick"
        try:
            ahead = self.queue.reserve(lane)
        except QueueFull:
            return Ticket(arrival, now=busy("commands"))
        return Ticket(arrival, lane=lane, ahead=ahead)

    async def answer(
        self,
        ticket: Ticket,
        *,
        while_waiting: Callable[[Waiting], Awaitable[object]] | None = None,
    ) -> Reply | None:
        """After the acknowledgement: the reply to send; None when there is nothing to
        send (a redelivery, or a stranger told within the hour). `while_waiting` is
        started alongside the work with what `ticket.waiting` says, if anything."""
        if ticket.lane is None:
            if ticket.now is None or not await self._first(ticket.arrival.key):
                return None
            return ticket.now
        waiting = ticket.waiting

        async def tell(_ahead: int | None) -> None:
            assert while_waiting is not None and waiting is not None
            await while_waiting(waiting)

        told = tell if while_waiting is not None and waiting is not None else None
        try:
            return await self.queue.run(
                ticket.lane, self._command_once, ticket.arrival, on_wait=told, reserved=True
            )
        except WorkInterrupted:
            return INTERRUPTED
        except QueueFull:
            return busy("commands")

    async def press(self, arrival: Arrival) -> Reply | None:
        """A button press: the router's answer; None for a redelivery or a stranger
        told within the hour."""
        if self.router.role(arrival.caller) is Role.NONE:
            return self._refusal_once(arrival.caller)
        try:
            return await self.queue.run("quick", self._press_once, arrival)
        except WorkInterrupted:
            return INTERRUPTED
        except QueueFull:
            return busy("button presses")

    async def read(self, fn: Callable[..., T], *args: object) -> T | None:
        """A database read on the chat path, in the quick lane like every other; None
        when the lane is full or opsdesk is stopping."""
        try:
            return await self.queue.run("quick", fn, *args)
        except (WorkInterrupted, QueueFull):
            return None

    def _refusal_once(self, caller: Caller) -> Reply | None:
        """The refusal, at most once an hour per chat; kept in memory, nothing written."""
        if not self.refusals.should_refuse(caller.chat or caller.principal):
            return None
        text = refusal_text(caller, Role.VIEWER)
        if caller.chat:
            text += f" This chat is {caller.chat}; this message is not repeated within the hour."
        else:
            text += " This message is not repeated within the hour."
        return Reply.refused(text).scrubbed()

    async def _first(self, key: str) -> bool:
        """True unless storage has seen `key` before; when the check cannot run (the
        lane is full, opsdesk is stopping) the answer is given rather than lost."""
        if not key:
            return True
        first = await self.read(self._unseen, key)
        return first is not False

    # -- in a worker ----------------------------------------------------------------

    def _command_once(self, arrival: Arrival) -> Reply | None:
        return self._once(arrival, self.router.handle)

    def _press_once(self, arrival: Arrival) -> Reply | None:
        return self._once(arrival, self.router.press)

    def _once(self, arrival: Arrival, answer: Callable[[Caller, str], Reply]) -> Reply | None:
        """`answer` unless the platform delivered this before (no key: always)."""
        if arrival.key and not self._unseen(arrival.key):
            return None
        return answer(arrival.caller, arrival.text)

    def _unseen(self, key: str) -> bool:
        """Whether storage has not seen `key` before. When the database cannot record
        it (an outage), the arrival counts as new: the platform has handed it over and
        will not deliver it again, and an answer twice beats none (/health during the
        outage is the question asked most)."""
        try:
            return first_delivery(self.router.context.engine, self.platform, key)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning(
                "%s: could not record a delivery (%s); answering it anyway",
                self.platform,
                one_line(exc),
            )
            return True
