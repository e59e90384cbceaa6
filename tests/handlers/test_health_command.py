"""/health as the team reads it: one line when all is up, the problems first with
their fix when not, opsdesk's internals only on request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from handlers.access import Caller
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import AccessConfig, Config
from jobs.core.reply import Reply
from tests.support.context import jobs_context
from tests.support.feedback import ADMIN
from tests.support.rows import add_runs, run_row, scheduler_beats

# Nightly at 07:00 in Berlin (06:00 UTC in winter).
CONFIG = Config.model_validate(
    {
        "scheduler": {"timezone": "Europe/Berlin"},
        "jobs": [
            {"name": "backup", "command": "true", "schedule": "0 7 * * *"},
            {"name": "report", "command": "true", "schedule": "30 9 * * *"},
        ],
        "access": {"admins": ["telegram:1"]},
    }
)
MORNING = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)


def router(engine: Engine, tmp_path: Path) -> Router:
    return build_router(jobs_context(engine, CONFIG, tmp_path, clock=lambda: MORNING))


def lines(reply: Reply) -> list[str]:
    return [line for block in reply.blocks for line in block.text.splitlines()]


def test_all_up_is_one_line_with_the_next_run_in_the_teams_zone(
    engine: Engine, tmp_path: Path
) -> None:
    add_runs(engine, [run_row("backup", MORNING - timedelta(minutes=30), 40)])
    add_runs(engine, [run_row("report", MORNING - timedelta(hours=21), 4)])
    scheduler_beats(engine, MORNING)

    reply = router(engine, tmp_path).handle(ADMIN, "/health")

    assert reply.title == "" and reply.fields == []
    assert lines(reply) == ["✅ All up · next run: report at 09:30 CET (in 2 h)"]


def test_a_problem_comes_first_with_its_cause_and_fix_and_internals_stay_out(
    engine: Engine, tmp_path: Path
) -> None:
    add_runs(engine, [run_row("backup", MORNING - timedelta(minutes=30), 40, status="failed")])
    add_runs(engine, [run_row("report", MORNING - timedelta(hours=21), 4)])
    scheduler_beats(engine, MORNING)

    reply = router(engine, tmp_path).handle(ADMIN, "/health")

    assert reply.title == "Health: down, 1 problem"
    assert lines(reply) == [
        "❌ job backup: last run failed (30m 00s ago)",
        "Fix: see its last output with `/run backup` (or in the log) and fix the cause",
        "Everything else is up. Details: /health all",
    ]
    every = router(engine, tmp_path).handle(ADMIN, "/health all")
    text = "\n".join(lines(every))
    assert "database" in text and "memory" in text and "job backup" in text


def test_health_takes_only_all(engine: Engine, tmp_path: Path) -> None:
    reply = router(engine, tmp_path).handle(ADMIN, "/health everything")
    assert reply.status == "error"
    assert "/health all" in reply.blocks[0].text


def test_the_next_run_of_an_interval_job_is_the_one_jobs_names(
    engine: Engine, tmp_path: Path
) -> None:
    """An interval counts from the job's last run, in /health as in /jobs."""
    config = Config.model_validate(
        {
            "jobs": [{"name": "sync", "command": "true", "schedule": "every 1h"}],
            "access": {"admins": ["telegram:1"]},
        }
    )
    last = MORNING - timedelta(minutes=40)
    add_runs(engine, [run_row("sync", last, 2, scheduled_at=last)])
    scheduler_beats(engine, MORNING)
    routed = build_router(jobs_context(engine, config, tmp_path, clock=lambda: MORNING))
    health = lines(routed.handle(ADMIN, "/health"))
    assert health == ["✅ All up · next run: sync at 06:50 UTC (in 20 min)"]
    assert "next in 20 min" in routed.handle(ADMIN, "/jobs").blocks[0].text


def test_a_fix_names_its_command_as_typed_where_it_is_read(engine: Engine, tmp_path: Path) -> None:
    add_runs(engine, [run_row("backup", MORNING - timedelta(minutes=30), 40, status="failed")])
    add_runs(engine, [run_row("report", MORNING - timedelta(hours=21), 4)])
    scheduler_beats(engine, MORNING)
    config = CONFIG.model_copy(update={"access": AccessConfig(admins=["slack:U0ADMIN"])})
    routed = build_router(jobs_context(engine, config, tmp_path, clock=lambda: MORNING))
    in_slack = Caller("slack", "U0ADMIN", "C1", "dana", command_prefix="/opsdesk ")
    shown = lines(routed.handle(in_slack, "/health"))
    assert "Fix: see its last output with `/opsdesk run backup` (or in the log)" in shown[1]
    assert shown[-1] == "Everything else is up. Details: /opsdesk health all"
