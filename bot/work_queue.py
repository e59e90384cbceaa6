"""Where chat commands do their work, apart from the path that acknowledges them.

Adapters acknowledge a command on the event loop first (no database, no threads),
then hand the work here. Two lanes, each with its own worker threads, so slow
commands (a review, `/run`) can never hold up quick ones (`/health`, a button).
Waiting is bounded: past `max_waiting` a lane refuses new work at once instead of
letting it go stale. Workers are daemon threads, so a job that ignores the stop
signal cannot keep the process alive; on shutdown `drain` waits the grace, sets
the process's one cancel signal, and whatever is still running is given up on
(`WorkInterrupted`), so the requester can be told.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from jobs.core.run_control import RunControl
from jobs.core.text import plural
from jobs.core.threads import in_daemon_thread

log = logging.getLogger(__name__)

T = TypeVar("T")
Lane = Literal["quick", "slow"]
# After the grace and the cancel signal, how long a job gets to notice it.
CANCEL_WAIT_S = 5.0


class QueueFull(Exception):
    """The lane's waiting line is full: answer "busy" now rather than late."""


class WorkInterrupted(Exception):
    """opsdesk stopped before this work finished."""


@dataclass
class _LaneState:
    workers: int
    max_waiting: int
    slots: asyncio.Semaphore | None = None
    running: int = 0
    waiting: int = 0
    reserved: int = 0  # acknowledged and about to call run()
    tasks: set[asyncio.Future[Any]] = field(default_factory=set)


class WorkQueue:
    def __init__(
        self,
        control: RunControl | None = None,
        *,
        quick_workers: int = 8,
        slow_workers: int = 4,
        max_waiting: int = 200,
    ) -> None:
        self.control = control or RunControl()
        self._lanes: dict[Lane, _LaneState] = {
            "quick": _LaneState(quick_workers, max_waiting),
            "slow": _LaneState(slow_workers, max_waiting),
        }
        self._given_up: asyncio.Future[None] | None = None
        # The handler tasks waiting on work here: they still answer after it ends.
        self._callers: set[asyncio.Task[Any]] = set()
        self.stopping = False

    def ahead(self, lane: Lane) -> int | None:
        """None when work submitted to `lane` now starts at once; otherwise how many
        wait in line before it."""
        state = self._lanes[lane]
        free = state.workers - state.running
        queued = state.waiting + state.reserved
        return None if free > queued else queued - max(free, 0)

    def has_room(self, lane: Lane) -> bool:
        state = self._lanes[lane]
        return state.waiting + state.reserved < state.max_waiting

    def reserve(self, lane: Lane) -> int | None:
        """Take a place in `lane` now, on the ack path (no await), for a `run(...,
        reserved=True)` that starts a moment later; returns `ahead(lane)` before it.
        QueueFull when the line is full."""
        if not self.has_room(lane):
            raise QueueFull(lane)
        ahead = self.ahead(lane)
        self._lanes[lane].reserved += 1
        return ahead

    async def run(
        self,
        lane: Lane,
        fn: Callable[..., T],
        *args: object,
        on_wait: Callable[[int | None], Awaitable[object]] | None = None,
        reserved: bool = False,
    ) -> T:
        """Run `fn(*args)` in a worker of `lane` once one is free. QueueFull when the
        lane's line is full; WorkInterrupted when opsdesk stopped first. `on_wait` is
        started alongside with how many wait ahead (None: it starts at once).
        `reserved`: the place was taken with `reserve(lane)`."""
        state = self._lanes[lane]
        if reserved:
            state.reserved -= 1
        if self.stopping:
            raise WorkInterrupted()
        if not reserved and not self.has_room(lane):
            raise QueueFull(lane)
        caller = asyncio.current_task()
        if caller is not None:
            self._callers.add(caller)
            caller.add_done_callback(self._callers.discard)
        if on_wait is not None:
            told = asyncio.ensure_future(on_wait(self.ahead(lane)))
            told.add_done_callback(_quietly)
        if state.slots is None:
            state.slots = asyncio.Semaphore(state.workers)
        if self._given_up is None:
            self._given_up = asyncio.get_running_loop().create_future()
        state.waiting += 1
        try:
            await state.slots.acquire()
        finally:
            state.waiting -= 1
        state.running += 1
        try:
            if self._given_up.done():
                raise WorkInterrupted()
            work: asyncio.Future[T] = asyncio.ensure_future(in_daemon_thread(fn, *args))
            state.tasks.add(work)
            given_up: asyncio.Future[Any] = self._given_up
            try:
                await asyncio.wait({work, given_up}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                state.tasks.discard(work)
            if not work.done():
                work.add_done_callback(_quietly)
                raise WorkInterrupted()
            return work.result()
        finally:
            state.running -= 1
            state.slots.release()

    async def drain(self, grace: float) -> None:
        """Shutdown: take no new work, give running work `grace`, then the cancel
        signal and a few seconds more. `give_up` then ends what is left."""
        self.stopping = True
        self.control.slots.close()  # runs waiting for a worker start no more
        tasks = [t for state in self._lanes.values() for t in state.tasks]
        if tasks:
            log.info("waiting up to %.0fs for %s", grace, plural(len(tasks), "chat command"))
            _, pending = await asyncio.wait(tasks, timeout=grace)
            if pending:
                self.control.cancel.set()
                _, pending = await asyncio.wait(pending, timeout=CANCEL_WAIT_S)
            if pending:
                log.warning("%s did not stop in time", plural(len(pending), "chat command"))

    async def give_up(self, answer_within: float = 5.0) -> None:
        """Work still running or waiting raises WorkInterrupted in its handler; the
        handlers get `answer_within` to tell their requesters before adapters close."""
        self.stopping = True
        if self._given_up is not None and not self._given_up.done():
            self._given_up.set_result(None)
        callers = [task for task in self._callers if task is not asyncio.current_task()]
        if callers:
            await asyncio.wait(callers, timeout=answer_within)


def _quietly(future: asyncio.Future[Any]) -> None:
    with contextlib.suppress(BaseException):
        future.exception()


def queued_text(ahead: int) -> str:
    """What a command that has to wait says in its acknowledgement."""
    if ahead == 0:
        return "Queued: next in line."
    return f"Queued: {ahead} ahead of you."
