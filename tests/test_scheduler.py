"""The scheduler with real one-second schedules, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs import runs
from jobs.config import Config
from jobs.scheduler import JobScheduler
from storage.models import Heartbeat, OutboxPost
from tests.conftest import make_services


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def scheduler_for(engine: Engine, raw: dict[str, object], **options: float) -> JobScheduler:
    config = Config.model_validate(raw)
    return JobScheduler(make_services(engine, config), **options)


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


async def test_fires_later_than_the_grace_are_recorded_missed(sqlite_only_engine: Engine) -> None:
    engine = sqlite_only_engine  # slow (blocks the loop 3.6 s): one database is enough
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
