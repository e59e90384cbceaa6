"""The scheduler with real one-second schedules, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs.config.schema import Config
from jobs.running.scheduler import JobScheduler
from jobs.runs import records as runs
from storage import heartbeats, migrate
from storage.db import make_engine, session_scope
from storage.models import Heartbeat, JobRun, OutboxPost, utcnow
from tests.support.context import jobs_context
from tests.support.databases import POSTGRES_URL, fresh_schema_url


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def scheduler_for(engine: Engine, raw: dict[str, object], **options: float) -> JobScheduler:
    config = Config.model_validate(raw)
    return JobScheduler(jobs_context(engine, config), **options)


async def test_a_scheduled_job_runs_and_is_recorded(engine: Engine) -> None:
    scheduler = scheduler_for(
        engine, {"jobs": [{"name": "tick", "command": "echo tick", "schedule": "every 1s"}]}
    )
    await scheduler.start()
    await wait_for(lambda: any(r.status == "ok" for r in runs.runs_of(engine, "tick")))
    await scheduler.stop()

    run = runs.runs_of(engine, "tick")[0]
    assert (run.trigger, run.status, run.output) == ("schedule", "ok", "tick\n")
    assert run.scheduled_at is not None
    assert abs((run.started_at - run.scheduled_at).total_seconds()) < 1
    with Session(engine) as session:
        beat = session.get(Heartbeat, "scheduler")
    assert beat is not None and beat.status == "stopped"
    assert "job:tick" in json.loads(beat.detail)["next_fire"]


async def test_a_batch_fires_once_and_posts_once_with_a_failing_member(engine: Engine) -> None:
    scheduler = scheduler_for(
        engine,
        {
            "jobs": [
                # Their own schedules are ignored while they are in the batch.
                {"name": "a", "command": "echo a", "batch": "b", "schedule": "every 1s"},
                {"name": "b-fails", "command": "echo oops; exit 2", "batch": "b"},
                {"name": "c", "command": "echo c", "batch": "b"},
            ],
            "batches": [{"name": "b", "schedule": "every 1s", "post_to": ["log:"]}],
        },
    )
    await scheduler.start()
    await wait_for(lambda: len([r for r in runs.runs_of(engine) if r.finished_at]) >= 3)
    await scheduler.stop()

    rows = runs.runs_of(engine)
    assert len(rows) == 3, "one fire: each member ran once"
    assert {r.trigger for r in rows} == {"batch"}
    assert len({r.batch_id for r in rows}) == 1
    assert sorted(r.status for r in rows) == ["failed", "ok", "ok"]
    with Session(engine) as session:
        posts = session.exec(select(OutboxPost)).all()
    assert len(posts) == 1 and posts[0].kind == "batch"
    assert "Batch b: 2/3 ok" in posts[0].reply_json


async def test_a_paused_job_records_nothing(engine: Engine) -> None:
    runs.set_paused(engine, "tick", True, by="test")
    scheduler = scheduler_for(
        engine,
        {
            "jobs": [
                {"name": "tick", "command": "echo tick", "schedule": "every 1s"},
                {"name": "tock", "command": "echo tock", "schedule": "every 1s"},
            ]
        },
    )
    await scheduler.start()
    await wait_for(lambda: bool(runs.runs_of(engine, "tock")))
    await scheduler.stop()
    assert runs.runs_of(engine, "tick") == []


async def test_fires_later_than_the_grace_are_recorded_missed(sqlite_engine: Engine) -> None:
    engine = sqlite_engine  # slow (blocks the loop 3.6 s): one database is enough
    scheduler = scheduler_for(
        engine,
        {
            "scheduler": {"misfire_grace": "1s"},
            "jobs": [{"name": "tick", "command": "echo tick", "schedule": "every 2s"}],
        },
    )
    await scheduler.start()
    await scheduler.leading.wait()
    time.sleep(3.6)  # blocks the event loop: the fire due after 2 s is 1.6 s late
    await wait_for(lambda: any(r.status == "missed" for r in runs.runs_of(engine, "tick")))
    await wait_for(lambda: any(r.status == "ok" for r in runs.runs_of(engine, "tick")))
    await scheduler.stop()
    missed = [r for r in runs.runs_of(engine, "tick") if r.status == "missed"]
    assert len(missed) == 1 and missed[0].scheduled_at is not None
    assert "misfire grace" in (missed[0].error or "")


async def test_shutdown_interrupts_a_run_that_outlives_the_grace(engine: Engine) -> None:
    scheduler = scheduler_for(
        engine,
        {"jobs": [{"name": "long", "command": "sleep 30", "schedule": "every 1s"}]},
        shutdown_grace=0.3,
    )
    await scheduler.start()
    await wait_for(lambda: bool(runs.runs_of(engine, "long")))
    started = time.monotonic()
    await scheduler.stop()
    assert time.monotonic() - started < 5
    (run,) = runs.runs_of(engine, "long")
    assert run.status == "interrupted"


async def test_fires_during_downtime_are_recorded_missed_once(engine: Engine) -> None:
    now = utcnow()
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
        scheduler = scheduler_for(engine, raw)
        await scheduler.start()
        await asyncio.wait_for(scheduler.leading.wait(), timeout=5)
        await scheduler.stop()

    missed = [r for r in runs.runs_of(engine, "half-hourly") if r.status == "missed"]
    assert sorted(r.scheduled_at for r in missed if r.scheduled_at) == due[1:]
    assert all(r.error and "opsdesk was not running" in r.error for r in missed)
    assert runs.runs_of(engine, "held") == []  # paused: nothing recorded
    assert runs.runs_of(engine, "ticker") == []  # intervals have no fixed past fires


async def test_a_stopped_scheduler_hands_over_to_the_next_at_once(engine: Engine) -> None:
    raw = {"jobs": [{"name": "t", "command": "true", "schedule": "0 3 * * *"}]}
    first = scheduler_for(engine, raw, lock_retry=60)
    await first.start()
    await asyncio.wait_for(first.leading.wait(), timeout=5)
    standby = scheduler_for(engine, raw, lock_retry=60)
    assert await asyncio.to_thread(standby._try_lock) is (engine.dialect.name == "sqlite")
    await first.stop()
    # The lock went with the first scheduler, not back into the connection pool.
    second = scheduler_for(engine, raw, lock_retry=60)
    await second.start()
    await asyncio.wait_for(second.leading.wait(), timeout=5)
    await second.stop()


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
        await asyncio.wait_for(first.leading.wait(), timeout=5)
        await asyncio.wait_for(second.leading.wait(), timeout=5)
        # Within one schema it is still one leader.
        standby = scheduler_for(engines[0], raw, lock_retry=60)
        assert await asyncio.to_thread(standby._try_lock) is False
        await first.stop()
        await second.stop()
        for each in engines:
            each.dispose()
