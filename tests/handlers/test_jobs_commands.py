"""/jobs, /run, /pause and /resume through the real router."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.render_text import render_text
from handlers.access import Caller
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from jobs.runs import records as runs
from tests.support.context import jobs_context

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
    assert "hello [command] every 15m — next " in before
    assert "member [command] batch nightly" in before
    assert "review:api [review] 0 3 * * *" in before
    assert router.handle(ADMIN, "/pause hello").status == "ok"
    assert "hello [command] every 15m — paused" in text_of(router, VIEWER, "/jobs")
    assert runs.paused_jobs(engine) == {"hello"}
    router.handle(ADMIN, "/resume hello")
    assert runs.paused_jobs(engine) == set()


def test_jobs_shows_the_last_run(sqlite_engine: Engine) -> None:
    router = router_for(sqlite_engine)
    router.handle(ADMIN, "/run hello")
    assert "last ok" in text_of(router, VIEWER, "/jobs")
