"""`[scheduler] workers` on SQLite and PostgreSQL: a burst of fires runs at most that
many jobs at once, the rest wait in fire order with the wait on their rows and in
/metrics, /health and the page; a chat-started run goes ahead of the night's queue
within its share; runs still waiting at shutdown are recorded interrupted.

Each held job is a real command, `cat` of a FIFO of its own: it runs until the test
writes a line into it. Time is a TravelClock moved by hand; every wait is for a
signal (the slots changed, a row was committed)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.operator.server import start_operator_surface
from handlers.jobs import run_now
from jobs.context import Context
from jobs.core.work_slots import WorkSlots
from jobs.health.checks import health_report
from jobs.running.scheduler import JobScheduler
from jobs.runs import records as runs
from jobs.runs.waiting import waiting_runs
from storage.db import is_postgres
from storage.models import JobRun
from tests.jobs.running.test_scheduler import HANG_GUARD_S, leading, make_due, scheduler_for
from tests.support.clock import TravelClock
from tests.support.waiting import commits

HELD = ["hold-1", "hold-2", "hold-3", "hold-4", "hold-5"]


def held_jobs(tmp_path: Path, names: list[str]) -> list[dict[str, object]]:
    for name in names:
        os.mkfifo(tmp_path / f"{name}.fifo")
    return [
        {"name": name, "command": f"cat {tmp_path / name}.fifo", "schedule": "every 1h"}
        for name in names
    ]


async def release(tmp_path: Path, name: str) -> None:
    """Let job `name` end: its `cat` reads one line (opening blocks until it reads)."""

    def write() -> None:
        fd = os.open(tmp_path / f"{name}.fifo", os.O_WRONLY)
        try:
            os.write(fd, b"done\n")
        finally:
            os.close(fd)

    await asyncio.to_thread(write)


async def slots_until(context: Context, running: int, waiting: int) -> None:
    """Until `running` runs hold a worker slot here and `waiting` wait for one (on
    PostgreSQL, fires waiting in the queue count too). Looked at each time the slots
    change: a run queued for a slot, started or ended (a run taken from the queue
    asks for its slot after the queue has marked it taken)."""
    slots = context.run_control.slots

    def settled(s: WorkSlots) -> bool:
        return sum(s.running().values()) == running and len(waiting_runs(context)) == waiting

    assert await asyncio.to_thread(slots.wait_until, settled, HANG_GUARD_S), (
        slots.running(),
        waiting_runs(context),
    )


def fire_all(scheduler: JobScheduler, names: list[str]) -> None:
    """Make every one due at once, in this order (APScheduler fires due jobs by time)."""
    now = datetime.now(UTC)
    for index, name in enumerate(names):
        make_due(scheduler, f"job:{name}", now - timedelta(seconds=len(names) - index))


def started(engine: Engine) -> list[JobRun]:
    """The runs in the order they started (ids are taken at insert, a little later)."""
    return sorted(runs.runs_of(engine), key=lambda r: (r.started_at, r.id or 0))


@contextmanager
def no_leftover_fifo_readers(tmp_path: Path, names: list[str]) -> Iterator[None]:
    """A test that fails midway must not leave its jobs' `cat`s blocked forever."""
    try:
        yield
    finally:
        for name in names:
            try:
                fd = os.open(tmp_path / f"{name}.fifo", os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue  # nobody reads it
            os.close(fd)


async def test_a_burst_of_fires_runs_at_most_workers_at_once_in_fire_order(
    engine: Engine, tmp_path: Path
) -> None:
    clock = TravelClock()
    start = clock()
    raw = {"scheduler": {"workers": 2}, "jobs": held_jobs(tmp_path, HELD)}
    scheduler = await leading(scheduler_for(engine, raw, clock))
    context = scheduler.context
    operator = await start_operator_surface(
        context, listen=("127.0.0.1", 0), token=None, leadership=lambda: True
    )
    base = f"http://127.0.0.1:{operator.bound_port}"
    with no_leftover_fifo_readers(tmp_path, HELD), commits() as committed:
        fire_all(scheduler, HELD)
        await slots_until(context, running=2, waiting=3)
        await committed.until(lambda: len(runs.runs_of(engine)) == 2)
        assert sorted(r.job for r in started(engine)) == ["hold-1", "hold-2"]

        clock.advance(minutes=20)  # longer than [scheduler] long_wait
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            metrics = (await client.get("/metrics")).text
            page = (await client.get("/")).text
        assert "opsdesk_workers 2.0" in metrics
        assert 'opsdesk_workers_busy{line="scheduled"} 2.0' in metrics
        assert 'opsdesk_runs_waiting{line="scheduled"} 3.0' in metrics
        assert 'opsdesk_runs_waiting_oldest_seconds{line="scheduled"} 1200.0' in metrics
        assert "3 scheduled runs waiting, the oldest (hold-3) for 20m" in page
        report = health_report(context, now=clock(), probe_model=False)
        [workers] = [c for c in report.components if c.name == "workers"]
        assert workers.status == "late"
        assert workers.detail.startswith("3 runs waiting for a free worker, the oldest (hold-3)")

        # Each end lets the next in fire order start, never more than two at once.
        for finished, starts, index in (("hold-1", "hold-3", 2), ("hold-2", "hold-4", 3)):
            await release(tmp_path, finished)
            await committed.until(lambda index=index: len(runs.runs_of(engine)) == index + 1)
            assert started(engine)[index].job == starts
            assert sum(r.status == "running" for r in runs.runs_of(engine)) == 2
            clock.advance(minutes=1)
        for name in ("hold-3", "hold-4", "hold-5"):
            await release(tmp_path, name)
        await committed.until(lambda: all(r.status == "ok" for r in runs.runs_of(engine)))
        await slots_until(context, running=0, waiting=0)
        assert health_report(context, now=clock(), probe_model=False).status != "late"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            metrics = (await client.get("/metrics")).text
    await operator.stop()
    await scheduler.stop()

    rows = started(engine)
    assert sorted(r.job for r in rows[:2]) == HELD[:2]  # the two took their slots at once
    assert [r.job for r in rows[2:]] == HELD[2:]
    assert all(r.queued_at == start for r in rows)
    assert [r.wait_ms for r in rows] == [0, 0, 1_200_000, 1_260_000, 1_320_000]
    assert 'opsdesk_job_run_wait_seconds_count{job="hold-3",kind="command"} 1.0' in metrics
    assert 'opsdesk_job_run_wait_seconds_sum{job="hold-3",kind="command"} 1200.0' in metrics
    assert 'opsdesk_runs_waiting{line="scheduled"} 0.0' in metrics


async def test_a_run_from_chat_goes_ahead_of_the_nights_queue(
    engine: Engine, tmp_path: Path
) -> None:
    names = HELD[:4]
    jobs = [*held_jobs(tmp_path, names), {"name": "quick", "command": "echo quick"}]
    raw = {"scheduler": {"workers": 2}, "jobs": jobs}
    scheduler = await leading(scheduler_for(engine, raw))
    context = scheduler.context
    with no_leftover_fifo_readers(tmp_path, names), commits() as committed:
        fire_all(scheduler, names)
        await slots_until(context, running=2, waiting=2)
        chat_run = asyncio.ensure_future(asyncio.to_thread(run_now, context, "quick"))
        await slots_until(context, running=2, waiting=3)
        await release(tmp_path, "hold-1")
        reply = await asyncio.wait_for(chat_run, HANG_GUARD_S)
        assert reply.title == "✅ quick: ok"
        for name in names[1:]:
            await release(tmp_path, name)
        await committed.until(lambda: all(r.status == "ok" for r in runs.runs_of(engine)))
    await scheduler.stop()

    order = [(r.job, r.trigger) for r in started(engine)]
    # The chat run took the first slot to come free, ahead of the two fires waiting.
    assert sorted(order[:2]) == [("hold-1", "schedule"), ("hold-2", "schedule")]
    assert order[2:] == [
        ("quick", "manual"),
        ("hold-3", "schedule"),
        ("hold-4", "schedule"),
    ]


async def test_opsdesks_own_jobs_wait_behind_no_run(engine: Engine, tmp_path: Path) -> None:
    """The health check and the digest take no worker slot: with the one worker held by
    the night's run and another waiting, both run at once, and nobody moves up."""
    names = HELD[:2]
    raw = {
        "scheduler": {"workers": 1},
        "jobs": held_jobs(tmp_path, names),
        "digest": {"post_to": ["log:"]},
    }
    scheduler = await leading(scheduler_for(engine, raw))
    context = scheduler.context

    def statuses() -> dict[str, str]:
        return {r.job: r.status for r in runs.runs_of(engine)}

    with no_leftover_fifo_readers(tmp_path, names), commits() as committed:
        fire_all(scheduler, names)
        await slots_until(context, running=1, waiting=1)
        fire_all(scheduler, ["health", "digest"])
        await committed.until(
            lambda: {statuses().get("health"), statuses().get("digest")} == {"ok"}
        )
        assert statuses() == {"hold-1": "running", "health": "ok", "digest": "ok"}
        await slots_until(context, running=1, waiting=1)  # hold-2 still waits its turn
        for name in names:
            await release(tmp_path, name)
        await committed.until(lambda: set(statuses().values()) == {"ok"} and len(statuses()) == 4)
    await scheduler.stop()
    assert [r.job for r in started(engine)] == ["hold-1", "health", "digest", "hold-2"] or [
        r.job for r in started(engine)
    ] == ["hold-1", "digest", "health", "hold-2"]


async def test_runs_still_waiting_at_shutdown_are_never_lost(
    engine: Engine, tmp_path: Path
) -> None:
    """SQLite: a run still waiting for a slot is recorded interrupted. PostgreSQL: a
    fire still waiting in the queue stays there for the next replica to take."""
    names = HELD[:3]
    raw = {"scheduler": {"workers": 1}, "jobs": held_jobs(tmp_path, names)}
    scheduler = await leading(scheduler_for(engine, raw, shutdown_grace=0.3))
    context = scheduler.context
    with no_leftover_fifo_readers(tmp_path, names):
        fire_all(scheduler, names)
        await slots_until(context, running=1, waiting=2)
        await asyncio.wait_for(scheduler.stop(), HANG_GUARD_S)

    rows = started(engine)
    assert [(r.job, r.status) for r in rows[:1]] == [("hold-1", "interrupted")]
    if is_postgres(engine):
        assert rows[1:] == []
        assert [w.job for w in waiting_runs(context)] == ["hold-2", "hold-3"]
        return
    assert [(r.job, r.status, r.error) for r in rows[1:]] == [
        (name, "interrupted", "opsdesk stopped before a worker was free to start it")
        for name in ("hold-2", "hold-3")
    ]
    assert all(r.queued_at is not None for r in rows)


def test_workers_default_to_the_machines_cores(context: Context) -> None:
    assert context.run_control.slots.workers == (os.cpu_count() or 1)


@pytest.mark.parametrize("workers", [0, 257])
def test_workers_out_of_range_are_refused(workers: int) -> None:
    from pydantic import ValidationError

    from jobs.config.schema import Config

    with pytest.raises(ValidationError, match="workers"):
        Config.model_validate({"scheduler": {"workers": workers}})


async def test_a_job_paused_while_its_fire_waits_for_a_worker_does_not_run(
    engine: Engine, tmp_path: Path
) -> None:
    """The fire waited (in the queue on PostgreSQL, in the line here on SQLite) since
    before the pause; when a worker is free it reads the pause, as the leader does at
    fire time, and runs (and records) nothing."""
    names = HELD[:2]
    raw = {"scheduler": {"workers": 1}, "jobs": held_jobs(tmp_path, names)}
    scheduler = await leading(scheduler_for(engine, raw))
    context = scheduler.context
    with no_leftover_fifo_readers(tmp_path, names), commits() as committed:
        fire_all(scheduler, names)
        await slots_until(context, running=1, waiting=1)
        assert runs.set_paused(engine, "hold-2", True, "test")
        await release(tmp_path, "hold-1")
        await committed.until(lambda: all(r.status == "ok" for r in runs.runs_of(engine)))
        assert await asyncio.to_thread(scheduler._fires.wait_settled, HANG_GUARD_S)
        await slots_until(context, running=0, waiting=0)
    await scheduler.stop()

    assert [(r.job, r.status) for r in runs.runs_of(engine)] == [("hold-1", "ok")]
