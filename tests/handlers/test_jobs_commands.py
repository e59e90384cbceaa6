"""/jobs, /run, /pause and /resume through the real router."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from bot.render_text import render_text
from handlers.access import Caller
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from jobs.runs import records as runs
from tests.support.context import jobs_context
from tests.support.rows import add_runs, run_row

ADMIN = Caller(platform="slack", user_id="UADMIN", chat_id="C1")
VIEWER = Caller(platform="slack", user_id="UVIEW", chat_id="C1")


def router_for(engine: Engine) -> Router:
    config = Config.model_validate(
        {
            "access": {"admins": ["slack:UADMIN"], "viewers": ["slack:UVIEW"]},
            "jobs": [
                {"name": "hello", "command": "echo hello", "schedule": "every 15m"},
                {"name": "member", "command": "echo m", "batch": "nightly"},
            ],
            "batches": [{"name": "nightly", "schedule": "0 2 * * *"}],
            "repos": [{"name": "api", "path": "/srv/api", "schedule": "0 3 * * *"}],
        }
    )
    return build_router(jobs_context(engine, config))


def text_of(router: Router, caller: Caller, line: str) -> str:
    return render_text(router.handle(caller, line))[0]


def test_run_by_a_viewer_is_refused(sqlite_engine: Engine) -> None:
    router = router_for(sqlite_engine)
    reply = router.handle(VIEWER, "/run hello")
    assert reply.status == "refused"
    assert runs.runs_of(sqlite_engine) == [], "nothing ran"
    assert router.handle(VIEWER, "/pause hello").status == "refused"


def test_run_by_an_admin_runs_and_replies_when_done(engine: Engine) -> None:
    router = router_for(engine)
    reply = router.handle(ADMIN, "/run hello")
    assert reply.status == "ok" and "hello: ok" in reply.title
    assert "hello" in render_text(reply)[0]
    (run,) = runs.runs_of(engine, "hello")
    assert (run.trigger, run.status) == ("manual", "ok")


def test_run_a_batch_by_name(sqlite_engine: Engine) -> None:
    reply = router_for(sqlite_engine).handle(ADMIN, "/run nightly")
    assert reply.title == "Batch nightly: 1/1 ok"


def test_unknown_job_lists_the_known_ones(sqlite_engine: Engine) -> None:
    text = text_of(router_for(sqlite_engine), ADMIN, "/run nope")
    assert "No job or batch named 'nope'" in text
    assert "hello, member, review:api, nightly" in text


def test_pause_and_resume_show_in_jobs(engine: Engine) -> None:
    router = router_for(engine)
    before = text_of(router, VIEWER, "/jobs")
    assert "• hello — every 15m · not run yet · next in 1" in before
    assert "• member — in batch nightly · not run yet" in before
    assert "• review:api — daily 03:00 UTC · not run yet · next in " in before
    assert router.handle(ADMIN, "/pause hello").status == "ok"
    assert "⏸ hello — every 15m · paused" in text_of(router, VIEWER, "/jobs")
    assert runs.paused_jobs(engine) == {"hello"}
    router.handle(ADMIN, "/resume hello")
    assert runs.paused_jobs(engine) == set()


def test_jobs_reads_at_a_glance(sqlite_engine: Engine) -> None:
    """Human schedules in the team's zone, the last run as "2 h ago", failures among
    the last runs, failing jobs first, a batch's last run from its members, and
    opsdesk's own jobs apart."""
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    config = Config.model_validate(
        {
            "access": {"viewers": ["slack:UVIEW"]},
            "scheduler": {"timezone": "Europe/Berlin"},
            "digest": {"post_to": ["log:digest"], "time": "09:00"},
            "jobs": [
                {"name": "backup", "command": "true", "schedule": "0 7 * * *"},
                {"name": "flaky", "command": "true", "schedule": "0,1 6 * * *"},
                {"name": "member", "command": "true", "batch": "nightly"},
            ],
            "batches": [{"name": "nightly", "schedule": "0 2 * * 1-5"}],
        }
    )
    add_runs(
        sqlite_engine,
        [run_row("backup", now - timedelta(hours=3), 40)]
        + [
            run_row("flaky", now - timedelta(days=d, hours=3), 2, status=status)
            for d, status in enumerate(["failed", "ok", "failed", "ok", "ok", "ok"])
        ]
        + [run_row("member", now - timedelta(hours=8), 1)]
        + [run_row("digest", now - timedelta(days=1), 1, kind="digest")],
    )
    router = build_router(jobs_context(sqlite_engine, config, clock=lambda: now))

    reply = router.handle(VIEWER, "/jobs")

    assert reply.title == "Jobs: 4, 1 failing"
    team, own = (block.text.splitlines() for block in reply.blocks)
    assert team == [
        "❌ flaky — daily 06:00 and 06:01 CET · last 3 h ago failed · 2 of the last 5 failed"
        " · next in 20 h",
        "✅ nightly — weekdays 02:00 CET · last 8 h ago · next in 16 h",
        "✅ backup — daily 07:00 CET · last 3 h ago, 40.0s · next in 21 h",
        "✅ member — in batch nightly · last 8 h ago, 1.0s",
    ]
    assert own == ["opsdesk's own: health every 5m, digest daily 09:00 CET (last 24 h ago)"]


def test_jobs_shows_the_last_run(sqlite_engine: Engine) -> None:
    router = router_for(sqlite_engine)
    router.handle(ADMIN, "/run hello")
    assert "✅ hello — every 15m · last just now, " in text_of(router, VIEWER, "/jobs")


def test_who_paused_a_job_is_named_as_people_know_them(sqlite_engine: Engine) -> None:
    dana = Caller(platform="slack", user_id="UADMIN", chat_id="C1", name="dana")
    reply = router_for(sqlite_engine).handle(dana, "/pause hello")
    assert {f.label: f.value for f in reply.fields}["By"] == "dana"
    anonymous = router_for(sqlite_engine).handle(ADMIN, "/resume hello")
    assert {f.label: f.value for f in anonymous.fields}["By"] == "slack:UADMIN"
