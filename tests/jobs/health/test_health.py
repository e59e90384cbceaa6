"""Health derived at read time: jobs late then down, paused, stale heartbeats, the
model endpoint, and /health and `opsdesk health` showing it all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from handlers.access import CONSOLE_CALLER
from handlers.catalog import build_router
from handlers.health import health_report
from jobs.config.schema import Config
from jobs.digest.job import build_digest
from jobs.health.checks import health_report as full_report
from jobs.health.component import Component
from jobs.health.model_endpoint import check_model_endpoint
from jobs.health.scheduled import scheduled_jobs
from storage.db import session_scope
from storage.models import Heartbeat, JobState
from tests.standins.model_server import ModelServer
from tests.support.context import jobs_context
from tests.support.ports import refused_port
from tests.support.rows import add_runs, run_row

# Runs nightly at 02:00 UTC, grace 15 minutes.
NIGHTLY = Config.model_validate(
    {
        "jobs": [{"name": "nightly", "command": "true", "schedule": "0 2 * * *"}],
        "health": {"grace": "15m"},
    }
)
DUE = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def components(
    engine: Engine, config: Config, now: datetime, tmp_path: Path
) -> dict[str, Component]:
    report = full_report(jobs_context(engine, config, tmp_path), now=now, probe_model=False)
    return {c.name: c for c in report.components}


def beat(
    engine: Engine,
    component: str,
    at: datetime,
    started: datetime | None = None,
    detail: str = "{}",
) -> None:
    with session_scope(engine) as session:
        session.merge(
            Heartbeat(
                component=component,
                holder="test:1",
                status="up",
                detail=detail,
                started_at=started or at,
                beat_at=at,
            )
        )


@pytest.mark.parametrize(
    ("minutes_after", "state"), [(-60, "up"), (10, "up"), (20, "late"), (31, "down")]
)
def test_a_job_whose_schedule_passed_without_a_run_is_late_then_down(
    engine: Engine, tmp_path: Path, minutes_after: int, state: str
) -> None:
    add_runs(engine, [run_row("nightly", DUE - timedelta(days=1) + timedelta(seconds=3), 60)])
    now = DUE + timedelta(minutes=minutes_after)
    job = components(engine, NIGHTLY, now, tmp_path)["job nightly"]
    assert job.status == state, job.detail


def test_a_run_at_its_time_keeps_the_job_up(engine: Engine, tmp_path: Path) -> None:
    add_runs(engine, [run_row("nightly", DUE + timedelta(seconds=2), 60)])
    job = components(engine, NIGHTLY, DUE + timedelta(hours=5), tmp_path)["job nightly"]
    assert job.status == "up"
    assert job.detail == "next run in 19h 00m"


def test_a_never_run_job_counts_from_the_schedulers_start(engine: Engine, tmp_path: Path) -> None:
    now = DUE + timedelta(minutes=40)
    assert components(engine, NIGHTLY, now, tmp_path)["job nightly"].detail == (
        "waiting for its first run"
    )
    beat(engine, "scheduler", now, started=DUE - timedelta(hours=1))
    assert components(engine, NIGHTLY, now, tmp_path)["job nightly"].status == "down"


def test_a_paused_job_is_paused_and_the_report_stays_healthy(
    engine: Engine, tmp_path: Path
) -> None:
    add_runs(engine, [run_row("nightly", DUE - timedelta(days=5), 60)])
    with session_scope(engine) as session:
        session.add(JobState(job="nightly", paused=True, changed_by="console:local"))
    now = DUE + timedelta(hours=1)
    beat(engine, "scheduler", now)
    report = full_report(jobs_context(engine, NIGHTLY, tmp_path), now=now, probe_model=False)
    job = {c.name: c for c in report.components}["job nightly"]
    assert job.status == "paused"
    assert report.status == "up"


def test_a_run_that_never_finishes_or_fails_makes_the_job_down(
    engine: Engine, tmp_path: Path
) -> None:
    add_runs(engine, [run_row("nightly", DUE, 0, status="running")])
    # The default timeout is 10m and the grace 15m: still fine at 20 minutes...
    assert (
        components(engine, NIGHTLY, DUE + timedelta(minutes=20), tmp_path)["job nightly"].status
        == "up"
    )
    # ...but not at 30.
    stuck = components(engine, NIGHTLY, DUE + timedelta(minutes=30), tmp_path)["job nightly"]
    assert stuck.status == "down"
    assert "has not finished" in stuck.detail
    add_runs(engine, [run_row("nightly", DUE + timedelta(days=1), 5, status="failed")])
    failed = components(engine, NIGHTLY, DUE + timedelta(days=1, hours=1), tmp_path)
    assert failed["job nightly"].status == "down"
    assert "last run failed" in failed["job nightly"].detail


def test_batch_members_run_under_their_batchs_schedule(engine: Engine, tmp_path: Path) -> None:
    config = Config.model_validate(
        {
            "batches": [{"name": "hourly", "schedule": "every 1h"}],
            "repos": [{"name": "api", "path": "/srv/api", "batch": "hourly"}],
        }
    )
    add_runs(engine, [run_row("review:api", DUE, 5, kind="review")])
    found = components(engine, config, DUE + timedelta(hours=1, minutes=20), tmp_path)
    assert found["job review:api"].status == "late"


def test_a_stale_scheduler_heartbeat_is_down(engine: Engine, tmp_path: Path) -> None:
    now = DUE + timedelta(hours=3)
    assert components(engine, NIGHTLY, now, tmp_path)["scheduler"].status == "down"
    fires = json.dumps({"next_fire": {"nightly": "2026-03-11T02:00:00+00:00"}})
    beat(engine, "scheduler", now - timedelta(seconds=30), detail=fires)
    fresh = components(engine, NIGHTLY, now, tmp_path)["scheduler"]
    assert fresh.status == "up"
    assert "next: nightly in 21h 00m" in fresh.detail
    stale = components(engine, NIGHTLY, now + timedelta(minutes=5), tmp_path)["scheduler"]
    assert stale.status == "down"
    assert "last heartbeat" in stale.detail


def test_no_scheduled_jobs_needs_no_scheduler(engine: Engine, tmp_path: Path) -> None:
    assert components(engine, Config(), DUE, tmp_path)["scheduler"].status == "up"


def test_enabled_chat_adapters_need_a_fresh_heartbeat(engine: Engine, tmp_path: Path) -> None:
    config = Config.model_validate({"slack": {"enabled": True}, "telegram": {"enabled": True}})
    beat(engine, "slack", DUE - timedelta(seconds=20))
    found = components(engine, config, DUE, tmp_path)
    assert found["slack"].status == "up"
    assert found["telegram"].status == "down"


def test_late_and_down_jobs_become_digest_insights(engine: Engine, tmp_path: Path) -> None:
    add_runs(engine, [run_row("nightly", DUE - timedelta(days=1), 60)])
    digest = build_digest(jobs_context(engine, NIGHTLY), "day", DUE + timedelta(hours=2))
    assert [(i.job, i.metric, i.severity) for i in digest.insights] == [
        ("nightly", "health", "critical")
    ]
    # The insight quotes health's own reason (which fire time passed), not a generic rule.
    job = components(engine, NIGHTLY, DUE + timedelta(hours=2), tmp_path)["job nightly"]
    assert job.detail in digest.insights[0].text


# ---- the model endpoint -------------------------------------------------------------


def llm_config(base_url: str) -> Config:
    return Config.model_validate(
        {
            "repos": [{"name": "api", "path": "/srv/api", "reviewer": "llm"}],
            "reviewer": {"llm": {"base_url": base_url}},
        }
    )


def test_a_reachable_model_endpoint_is_up_and_the_key_stays_out_of_the_detail(
    model_server: ModelServer,
) -> None:
    found = check_model_endpoint(llm_config(model_server.url), api_key="sk-secret")
    assert found is not None and found.status == "up"
    assert model_server.received[-1].headers["Authorization"] == "Bearer sk-secret"
    assert "sk-secret" not in json.dumps([found.detail, found.data])


def test_an_unreachable_model_endpoint_is_down() -> None:
    with refused_port() as port:
        found = check_model_endpoint(llm_config(f"http://127.0.0.1:{port}/v1"), timeout_s=1)
    assert found is not None and found.status == "down"
    assert "unreachable" in found.detail


def test_no_llm_reviewer_means_no_model_probe() -> None:
    assert check_model_endpoint(Config()) is None


# ---- /health ------------------------------------------------------------------------


def test_health_all_shows_every_component(sqlite_engine: Engine, tmp_path: Path) -> None:
    context = jobs_context(sqlite_engine, NIGHTLY, data_dir=tmp_path)
    context.clock = lambda: DUE + timedelta(hours=1)
    reply = build_router(context).handle(CONSOLE_CALLER, "/health all")
    text = "\n".join(block.text for block in reply.blocks)
    for name in ("database", "schema", "config", "scheduler", "job nightly", "disk", "memory"):
        assert f" {name}: " in text
    assert reply.title == "Health: down (checked 03:00 UTC)"  # no scheduler runs the job
    report = health_report(context)
    assert not report.healthy
    disk = {c.name: c for c in report.components}["disk"]
    assert disk.data["free_mb"] > 0


def test_the_scheduled_health_check_posts_on_changes_only(engine: Engine, tmp_path: Path) -> None:
    from sqlmodel import Session, select

    from jobs.digest.job import post_health_alerts
    from storage.models import OutboxPost

    add_runs(engine, [run_row("nightly", DUE - timedelta(days=1) + timedelta(seconds=3), 60)])
    beat(engine, "scheduler", DUE + timedelta(minutes=20), started=DUE - timedelta(days=2))

    def posts(now: datetime) -> list[str]:
        beat(engine, "scheduler", now, started=DUE - timedelta(days=2))
        with Session(engine) as session:
            before = len(session.exec(select(OutboxPost)).all())
        post_health_alerts(jobs_context(engine, NIGHTLY, tmp_path), now)
        with Session(engine) as session:
            rows = session.exec(select(OutboxPost).order_by(OutboxPost.id)).all()[before:]
        return [row.dedupe_key.split("|")[0] for row in rows]

    assert posts(DUE + timedelta(minutes=20)) == ["alert:nightly:health:alert:2026-03-10T02:20"]
    assert posts(DUE + timedelta(minutes=40)) == []  # late → down: still the same alert
    add_runs(engine, [run_row("nightly", DUE + timedelta(minutes=41), 60)])
    assert posts(DUE + timedelta(minutes=45)) == ["alert:nightly:health:recovered:2026-03-10T02:45"]


def test_health_judges_jobs_by_the_schedule_the_scheduler_uses() -> None:
    config = Config.model_validate(
        {
            "repos": [{"name": "api", "path": "/srv/api", "schedule": "0 2 * * *"}],
            "jobs": [
                # Its own schedule is ignored while it is in a batch, so health ignores it too.
                {"name": "brief", "command": "true", "schedule": "0 1 * * *", "batch": "m"},
                {"name": "manual", "command": "true"},
            ],
            "batches": [{"name": "m", "schedule": "30 7 * * *"}],
            "digest": {"post_to": ["slack:C1"], "time": "09:15", "timezone": "Asia/Tokyo"},
        }
    )
    found = {job.name: (job.schedule, job.timezone) for job in scheduled_jobs(config)}
    assert found == {
        "review:api": ("0 2 * * *", "UTC"),
        "brief": ("30 7 * * *", "UTC"),
        "digest": ("15 9 * * *", "Asia/Tokyo"),
        "health": ("every 5m", "UTC"),
    }
