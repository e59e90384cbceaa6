"""The scheduler on SQLite and PostgreSQL, fired through APScheduler's own path: a test
makes an entry due (APScheduler's way to run a job now: its next run time moved) and
waits for APScheduler to report the fire done, instead of waiting for the wall clock."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobEvent,
    JobExecutionEvent,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs.config.schema import Config
from jobs.running.scheduler import JobScheduler
from jobs.runs import records as runs
from storage import heartbeats, migrate
from storage.db import make_engine, session_scope
from storage.models import Heartbeat, JobRun, OutboxPost, utcnow
from tests.support.clock import TravelClock
from tests.support.context import jobs_context
from tests.support.databases import POSTGRES_URL, fresh_schema_url
from tests.support.waiting import commits, watching

HANG_GUARD_S = 30
FIRE_DONE = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED


def scheduler_for(
    engine: Engine, raw: dict[str, object], clock: TravelClock | None = None, **options: float
) -> JobScheduler:
    config = Config.model_validate(raw)
    fields = {"clock": clock} if clock is not None else {}
    return JobScheduler(jobs_context(engine, config, **fields), **options)


async def leading(scheduler: JobScheduler) -> JobScheduler:
    await scheduler.start()
    await asyncio.wait_for(scheduler.leading.wait(), HANG_GUARD_S)
    return scheduler


def make_due(scheduler: JobScheduler, entry: str, at: datetime) -> None:
    """APScheduler's documented way to run a job now: move its next run time. The
    scheduler wakes up at once and takes the fire down its usual path (submitted event,
    misfire check, max_instances, our listeners)."""
    assert scheduler._scheduler is not None
    scheduler._scheduler.modify_job(entry, next_run_time=at)


async def fire(scheduler: JobScheduler, entry: str, at: datetime | None = None) -> JobEvent:
    """Make `entry` due at `at` (now) and wait until APScheduler says that fire is done
    (run, queued or missed) and, on PostgreSQL, until the queue's worker here has run
    what it queued (recorded)."""
    assert scheduler._scheduler is not None
    done: asyncio.Future[JobEvent] = asyncio.get_running_loop().create_future()

    def on_done(event: JobEvent) -> None:
        if event.job_id == entry and not done.done():
            done.set_result(event)

    scheduler._scheduler.add_listener(on_done, FIRE_DONE)
    try:
        make_due(scheduler, entry, at or datetime.now(UTC))
        event = await asyncio.wait_for(done, HANG_GUARD_S)
        assert await asyncio.to_thread(scheduler._fires.wait_settled, HANG_GUARD_S)
        return event
    finally:
        scheduler._scheduler.remove_listener(on_done)


async def test_a_scheduled_job_runs_and_is_recorded(engine: Engine) -> None:
    scheduler = await leading(
        scheduler_for(
            engine, {"jobs": [{"name": "tick", "command": "echo tick", "schedule": "every 1h"}]}
        )
    )
    assert scheduler.entries() == [("job:tick", "every 1h")]
    event = await fire(scheduler, "job:tick")
    await scheduler.stop()

    assert event.code == EVENT_JOB_EXECUTED
    [run] = runs.runs_of(engine, "tick")
    assert (run.trigger, run.status, run.output) == ("schedule", "ok", "tick\n")
    assert run.scheduled_at is not None
    assert abs((run.started_at - run.scheduled_at).total_seconds()) < 1
    with Session(engine) as session:
        beat = session.get(Heartbeat, "scheduler")
    assert beat is not None and beat.status == "stopped"
    next_fire = json.loads(beat.detail)["next_fire"]
    assert next_fire["job:tick"] is not None  # the next one, an hour on
    assert datetime.fromisoformat(next_fire["job:tick"]) > run.scheduled_at


async def test_a_batch_fires_once_and_posts_once_with_a_failing_member(engine: Engine) -> None:
    scheduler = await leading(
        scheduler_for(
            engine,
            {
                "jobs": [
                    # Their own schedules are ignored while they are in the batch.
                    {"name": "a", "command": "echo a", "batch": "b", "schedule": "every 1s"},
                    {"name": "b-fails", "command": "echo oops; exit 2", "batch": "b"},
                    {"name": "c", "command": "echo c", "batch": "b"},
                ],
                "batches": [{"name": "b", "schedule": "every 1h", "post_to": ["log:"]}],
            },
        )
    )
    assert scheduler.entries() == [("batch:b", "every 1h")], "no entry of a member's own"
    assert set(scheduler.next_fire_times()) == {"batch:b"}
    await fire(scheduler, "batch:b")
    await scheduler.stop()

    rows = runs.runs_of(engine)
    assert len(rows) == 3, "one fire: each member ran once"
    assert all(r.finished_at for r in rows)
    assert {r.trigger for r in rows} == {"batch"}
    assert len({r.batch_id for r in rows}) == 1
    assert sorted(r.status for r in rows) == ["failed", "ok", "ok"]
    with Session(engine) as session:
        posts = session.exec(select(OutboxPost)).all()
    assert len(posts) == 1 and posts[0].kind == "batch"
    assert "Batch b: 2/3 ok" in posts[0].reply_json


async def test_a_paused_job_records_nothing(engine: Engine) -> None:
    runs.set_paused(engine, "tick", True, by="test")
    scheduler = await leading(
        scheduler_for(
            engine,
            {
                "jobs": [
                    {"name": "tick", "command": "echo tick", "schedule": "every 1h"},
                    {"name": "tock", "command": "echo tock", "schedule": "every 1h"},
                ]
            },
        )
    )
    with watching("jobs.running.scheduler") as log:
        paused = await fire(scheduler, "job:tick")
        await fire(scheduler, "job:tock")
    await scheduler.stop()
    assert paused.code == EVENT_JOB_EXECUTED, "the fire came and went"
    assert "job:tick is paused; not running" in log.messages()
    assert runs.runs_of(engine, "tick") == []
    assert [r.status for r in runs.runs_of(engine, "tock")] == ["ok"]


async def test_fires_later_than_the_grace_are_recorded_missed(engine: Engine) -> None:
    scheduler = await leading(
        scheduler_for(
            engine,
            {
                "scheduler": {"misfire_grace": "1s"},
                "jobs": [{"name": "tick", "command": "echo tick", "schedule": "every 1h"}],
            },
        )
    )
    late = datetime.now(UTC) - timedelta(seconds=90)  # e.g. the loop was blocked that long
    with watching("jobs.running") as log:
        missed_fire = await fire(scheduler, "job:tick", at=late)
        await log.logged("job:tick missed its .* schedule")
    # The fire came and went without a run: lateness is judged on the injected clock.
    assert isinstance(missed_fire, JobExecutionEvent) and missed_fire.code == EVENT_JOB_EXECUTED
    assert await fire(scheduler, "job:tick") is not None  # the next fire on time runs
    await scheduler.stop()
    rows = runs.runs_of(engine, "tick")
    missed = [r for r in rows if r.status == "missed"]
    assert len(missed) == 1 and missed[0].scheduled_at == late
    assert "misfire grace" in (missed[0].error or "")
    assert [r.status for r in rows if r.status != "missed"] == ["ok"]


async def test_shutdown_interrupts_a_run_that_outlives_the_grace(engine: Engine) -> None:
    scheduler = await leading(
        scheduler_for(
            engine,
            {"jobs": [{"name": "long", "command": "sleep 30", "schedule": "every 1h"}]},
            shutdown_grace=0.3,
        )
    )
    with commits() as committed:
        make_due(scheduler, "job:long", datetime.now(UTC))
        await committed.until(lambda: runs.runs_of(engine, "long"))
    await asyncio.wait_for(scheduler.stop(), HANG_GUARD_S)
    (run,) = runs.runs_of(engine, "long")
    assert run.status == "interrupted"
    assert run.error == "stopped: opsdesk was shutting down"  # told after the grace


async def test_fires_during_downtime_are_recorded_missed_once(engine: Engine) -> None:
    clock = TravelClock(utcnow().replace(minute=17, second=42))
    now = clock()
    # The previous scheduler's last sign of life, three hours ago.
    heartbeats.beat(engine, "scheduler", "old-host:1", "up")
    with session_scope(engine) as session:
        beat = session.get(Heartbeat, "scheduler")
        assert beat is not None
        beat.beat_at = now - timedelta(hours=3)
    raw = {
        "scheduler": {"timezone": "UTC", "misfire_grace": "5m"},
        "jobs": [
            {"name": "half-hourly", "command": "true", "schedule": "*/30 * * * *"},
            {"name": "held", "command": "true", "schedule": "*/30 * * * *"},
            {"name": "ticker", "command": "true", "schedule": "every 10m"},
        ],
    }
    runs.set_paused(engine, "held", True, "test")
    # One of the fires did run (the old process got to it before it died).
    window_start = now - timedelta(hours=3)
    fires = [
        window_start.replace(second=0, microsecond=0) + timedelta(minutes=m) for m in range(1, 181)
    ]
    due = [f for f in fires if f.minute in (0, 30) and f <= now - timedelta(minutes=5)]
    with session_scope(engine) as session:
        session.add(
            JobRun(job="half-hourly", kind="command", trigger="schedule", status="ok",
                   scheduled_at=due[0])
        )  # fmt: skip

    for _ in range(2):  # a second start records nothing again
        scheduler = await leading(scheduler_for(engine, raw, clock))
        await scheduler.stop()

    missed = [r for r in runs.runs_of(engine, "half-hourly") if r.status == "missed"]
    assert sorted(r.scheduled_at for r in missed if r.scheduled_at) == due[1:]
    assert all(r.error and "opsdesk was not running" in r.error for r in missed)
    assert runs.runs_of(engine, "held") == []  # paused: nothing recorded
    assert runs.runs_of(engine, "ticker") == []  # intervals have no fixed past fires


async def test_a_stopped_scheduler_hands_over_to_the_next_at_once(engine: Engine) -> None:
    raw = {"jobs": [{"name": "t", "command": "true", "schedule": "0 3 * * *"}]}
    # A heartbeat far longer than the hang guard: stopping must not wait for the next
    # one, even when the stop meets the first heartbeat's proof of the lock.
    first = scheduler_for(engine, raw, lock_retry=60, heartbeat_every=3600)
    await first.start()
    await asyncio.wait_for(first.leading.wait(), HANG_GUARD_S)
    standby = scheduler_for(engine, raw, lock_retry=60)
    assert await asyncio.to_thread(standby._lock.acquire) is (engine.dialect.name == "sqlite")
    await asyncio.wait_for(first.stop(), HANG_GUARD_S)
    # The lock went with the first scheduler, not back into the connection pool.
    second = scheduler_for(engine, raw, lock_retry=60, heartbeat_every=3600)
    await second.start()
    await asyncio.wait_for(second.leading.wait(), HANG_GUARD_S)
    await asyncio.wait_for(second.stop(), HANG_GUARD_S)


@pytest.mark.postgres
async def test_two_deployments_in_two_schemas_of_one_database_each_have_a_leader(
    pg_url: str,
) -> None:
    """The scheduler's lock is per set of opsdesk tables, not per database: a second
    deployment in another schema leads its own jobs instead of standing by forever."""
    raw = {"jobs": [{"name": "t", "command": "true", "schedule": "0 3 * * *"}]}
    assert POSTGRES_URL is not None
    with fresh_schema_url(POSTGRES_URL) as other_url:
        engines = [make_engine(pg_url), make_engine(other_url)]
        for each in engines:
            await asyncio.to_thread(migrate.upgrade, each)
        first, second = (scheduler_for(each, raw, lock_retry=60) for each in engines)
        await first.start()
        await second.start()
        await asyncio.wait_for(first.leading.wait(), HANG_GUARD_S)
        await asyncio.wait_for(second.leading.wait(), HANG_GUARD_S)
        # Within one schema it is still one leader.
        standby = scheduler_for(engines[0], raw, lock_retry=60)
        assert await asyncio.to_thread(standby._lock.acquire) is False
        await first.stop()
        await second.stop()
        for each in engines:
            each.dispose()


async def test_a_cron_fire_between_two_leaders_runs_on_the_next_within_the_grace(
    engine: Engine,
) -> None:
    """The database was down (or the leader died) when a fire fell due: no replica could
    prove the lock. The next leader runs that fire at once, as it was scheduled, when it
    is still within the misfire grace; older ones are recorded missed."""
    now = utcnow()
    heartbeats.beat(engine, "scheduler", "old-host:1", "up")
    with session_scope(engine) as session:
        beat = session.get(Heartbeat, "scheduler")
        assert beat is not None
        beat.beat_at = now - timedelta(minutes=3)  # the last leader's last sign of life
    raw = {
        "scheduler": {"timezone": "UTC", "misfire_grace": "5m"},
        "jobs": [{"name": "minutely", "command": "echo caught up", "schedule": "* * * * *"}],
    }
    with commits() as committed:
        scheduler = await leading(scheduler_for(engine, raw, TravelClock(now)))
        await committed.until(
            lambda: any(r.status == "ok" for r in runs.runs_of(engine, "minutely"))
        )
    await scheduler.stop()
    rows = runs.runs_of(engine, "minutely")
    [caught_up] = [r for r in rows if r.status == "ok"]
    assert caught_up.scheduled_at is not None
    gap_start = (now - timedelta(minutes=3)).replace(second=0, microsecond=0)
    assert gap_start < caught_up.scheduled_at <= now
    assert caught_up.output == "caught up\n"
