"""The scheduler through steps of the wall clock (an NTP correction, a VM restored from
a snapshot), on the injected clock: a step back no longer stalls jobs for the size of
the step, a step forward runs a jumped-over fire once instead of missing it, and no
fire runs twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.running.scheduler import JobScheduler
from jobs.runs import records as runs
from tests.support.clock import SteppedClock
from tests.support.context import jobs_context
from tests.support.waiting import HANG_GUARD_S, commits, watching

# 02:30 on a Monday: a nightly 03:00 job is half an hour away.
START = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)
JOBS = {
    "scheduler": {"timezone": "UTC", "misfire_grace": "1m"},
    "jobs": [
        {"name": "tick", "command": "echo tick", "schedule": "every 2s"},
        {"name": "five", "command": "echo five", "schedule": "*/5 * * * *"},
        {"name": "nightly", "command": "echo nightly", "schedule": "0 3 * * *"},
    ],
}


@asynccontextmanager
async def leading(engine: Engine, clock: SteppedClock) -> AsyncIterator[JobScheduler]:
    scheduler = JobScheduler(jobs_context(engine, Config.model_validate(JOBS), clock=clock))
    await scheduler.start()
    try:
        await asyncio.wait_for(scheduler.leading.wait(), HANG_GUARD_S)
        yield scheduler
    finally:
        await scheduler.stop()


def next_fires(scheduler: JobScheduler) -> dict[str, datetime]:
    return {
        entry.removeprefix("job:"): datetime.fromisoformat(iso)
        for entry, iso in scheduler.next_fire_times().items()
        if iso is not None
    }


async def step(scheduler: JobScheduler, clock: SteppedClock, by: timedelta) -> datetime:
    """Step the clock and wake the scheduler (as its look every few seconds would);
    return the time stepped to, once the scheduler has noticed the step."""
    assert scheduler._scheduler is not None
    with watching("jobs.running") as log:
        stepped_to = clock.step(by)
        scheduler._scheduler.wakeup()
        await log.logged("the clock stepped")
    return stepped_to


def fired_after(engine: Engine, name: str, since: datetime) -> list[datetime]:
    return [
        r.scheduled_at
        for r in runs.runs_of(engine, name)
        if r.scheduled_at is not None and r.scheduled_at >= since and r.status == "ok"
    ]


async def test_a_step_back_keeps_every_job_on_its_schedule(engine: Engine) -> None:
    clock = SteppedClock(START)
    async with leading(engine, clock) as scheduler:
        before = next_fires(scheduler)
        stepped_to = await step(scheduler, clock, -HOUR)
        after = next_fires(scheduler)
        with commits() as committed:
            await committed.until(lambda: fired_after(engine, "tick", stepped_to))
    # An interval keeps its period: two seconds on, not an hour and two seconds …
    assert stepped_to < after["tick"] <= stepped_to + timedelta(seconds=2)
    # … a job firing more often than the step goes on through the repeated hour …
    assert after["five"] == START - HOUR + timedelta(minutes=5)
    # … and a nightly one keeps its clock time: it does not run twice.
    assert after["nightly"] == before["nightly"] == START.replace(hour=3, minute=0)
    assert runs.runs_of(engine, "five") == runs.runs_of(engine, "nightly") == []
    assert not [r for r in runs.runs_of(engine) if r.status == "missed"]


async def test_a_step_forward_runs_a_jumped_over_fire_once(engine: Engine) -> None:
    clock = SteppedClock(START)
    async with leading(engine, clock) as scheduler:
        before = next_fires(scheduler)
        with commits() as committed:
            # Over 03:00 and twelve */5 fires, far past the one-minute misfire grace.
            stepped_to = await step(scheduler, clock, HOUR)
            await committed.until(
                lambda: (
                    fired_after(engine, "five", stepped_to)
                    and fired_after(engine, "nightly", stepped_to)
                )
            )
        after = next_fires(scheduler)

    for name in ("five", "nightly"):
        [ran] = runs.runs_of(engine, name)  # once, not once per jumped-over fire
        assert ran.status == "ok"
        assert ran.scheduled_at is not None
        assert stepped_to <= ran.scheduled_at < stepped_to + timedelta(seconds=5)
    assert after["five"] == (START + HOUR).replace(minute=35)
    assert after["nightly"] == START.replace(hour=3, minute=0) + timedelta(days=1)
    # The interval keeps its period from its last fire instead of one late fire.
    assert before["tick"] + HOUR <= after["tick"] + timedelta(seconds=2)
    assert not [r for r in runs.runs_of(engine) if r.status == "missed"]
