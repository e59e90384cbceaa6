"""The chat work queue: lanes apart, a bounded line, and shutdown on one signal."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from bot import work_queue
from bot.work_queue import QueueFull, WorkInterrupted, WorkQueue, queued_text
from jobs.core.run_control import RunControl

HANG_GUARD_S = 30


def announced(started: threading.Event, wait: Callable[[float], bool]) -> Callable[[], bool]:
    """Work that says when a worker has begun it, then waits as `wait` does."""

    def work() -> bool:
        started.set()
        return wait(HANG_GUARD_S)

    return work


async def begun(started: threading.Event) -> None:
    assert await asyncio.to_thread(started.wait, HANG_GUARD_S), "the work never started"


async def test_a_full_slow_lane_never_delays_the_quick_lane() -> None:
    queue = WorkQueue(quick_workers=1, slow_workers=1)
    release, started = threading.Event(), threading.Event()
    slow = asyncio.ensure_future(queue.run("slow", announced(started, release.wait)))
    await begun(started)
    quick = queue.run("quick", lambda: "quick done")
    assert await asyncio.wait_for(quick, HANG_GUARD_S) == "quick done"
    assert not slow.done(), "the quick command was answered while the slow lane stayed full"
    release.set()
    assert await slow is True


async def test_waiting_work_knows_how_many_are_ahead_and_the_line_is_bounded() -> None:
    queue = WorkQueue(slow_workers=1, max_waiting=2)
    release, started = threading.Event(), threading.Event()
    assert queue.ahead("slow") is None
    running = asyncio.ensure_future(queue.run("slow", announced(started, release.wait)))
    await begun(started)
    assert queue.reserve("slow") == 0
    assert queue.reserve("slow") == 1
    assert queued_text(1) == "Queued: 1 ahead of you."
    with pytest.raises(QueueFull):
        queue.reserve("slow")
    waiting = [
        asyncio.ensure_future(queue.run("slow", lambda: "ran", reserved=True)) for _ in range(2)
    ]
    release.set()
    assert await running is True
    assert await asyncio.gather(*waiting) == ["ran", "ran"]


async def test_shutdown_gives_the_grace_then_the_cancel_signal_then_gives_up() -> None:
    control = RunControl()
    queue = WorkQueue(control, slow_workers=1)
    stubborn, started = threading.Event(), threading.Event()  # stubborn ignores the signal
    polite = asyncio.ensure_future(queue.run("slow", announced(started, control.cancel.wait)))
    await begun(started)
    ignoring = asyncio.ensure_future(queue.run("slow", stubborn.wait, 30))
    await asyncio.wait_for(queue.drain(grace=0.2), HANG_GUARD_S)
    assert control.cancel.is_set()
    assert await polite is True  # it saw the signal and stopped
    await asyncio.wait_for(queue.give_up(), HANG_GUARD_S)
    with pytest.raises(WorkInterrupted):
        await ignoring  # was still waiting for a worker: never started
    with pytest.raises(WorkInterrupted):
        await queue.run("quick", lambda: None)  # nothing new once stopping
    stubborn.set()


async def test_running_work_that_ignores_the_signal_is_given_up_and_its_caller_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(work_queue, "CANCEL_WAIT_S", 0.2)
    queue = WorkQueue(slow_workers=1)
    stubborn, started = threading.Event(), threading.Event()
    told: list[str] = []

    async def handler() -> None:
        try:
            await queue.run("slow", announced(started, stubborn.wait))
        except WorkInterrupted:
            told.append("interrupted")

    task = asyncio.ensure_future(handler())
    await begun(started)
    await queue.drain(grace=0.1)
    await queue.give_up()  # waits for the handler to tell its requester
    assert task.done() and told == ["interrupted"]
    stubborn.set()
