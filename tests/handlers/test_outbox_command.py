"""/outbox through the real router: posts that failed for good are listed, retried or
dropped by an admin, and /health shows them until then."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.render_text import render_text
from handlers.access import Caller
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.outbox.delivery import enqueue
from storage.db import session_scope
from storage.models import OutboxPost
from tests.support.context import jobs_context

ADMIN = Caller(platform="slack", user_id="UADMIN", chat_id="C1")
VIEWER = Caller(platform="slack", user_id="UVIEW", chat_id="C1")


def router_for(engine: Engine) -> Router:
    config = Config.model_validate(
        {"access": {"admins": ["slack:UADMIN"], "viewers": ["slack:UVIEW"]}}
    )
    return build_router(jobs_context(engine, config))


def post(engine: Engine, key: str, status: str, error: str | None = None) -> int:
    [post_id] = enqueue(
        engine, kind="job", targets=["slack:CGONE"], reply=Reply.text(key), dedupe_key=key
    )
    with session_scope(engine) as session:
        row = session.get(OutboxPost, post_id)
        assert row is not None
        row.status, row.last_error, row.attempts = status, error, 1
    return post_id


def text_of(router: Router, caller: Caller, line: str) -> str:
    return render_text(router.handle(caller, line))[0]


def test_a_failed_post_stays_in_health_until_retried(engine: Engine) -> None:
    router = router_for(engine)
    lost = post(
        engine, "lost", "failed", "PermanentFailure: Slack refused the post: channel_not_found"
    )
    post(engine, "later", "sent")  # a later post to the same channel went through

    health = text_of(router, VIEWER, "/health")
    assert "posts to slack:CGONE: a post failed for good" in health
    assert "a post failed for good: Slack refused the post: channel_not_found" in health
    assert "/outbox retry" in health

    listing = text_of(router, ADMIN, "/outbox")
    assert f"#{lost} job to slack:CGONE" in listing and "channel_not_found" in listing
    assert router.handle(VIEWER, "/outbox retry all").status == "refused"

    assert "1 post back in the outbox" in text_of(router, ADMIN, f"/outbox retry {lost}")
    with Session(engine) as session:
        row = session.get(OutboxPost, lost)
        assert row is not None and (row.status, row.attempts) == ("pending", 0)
    assert "posts to slack:CGONE" not in text_of(router, VIEWER, "/health")
    assert "No post has failed for good" in text_of(router, ADMIN, "/outbox")


def test_dropping_failed_posts_clears_health_and_keeps_the_rows(engine: Engine) -> None:
    router = router_for(engine)
    first = post(engine, "one", "failed", "PermanentFailure: Slack refused the post: is_archived")
    post(engine, "two", "failed", "PermanentFailure: Slack refused the post: is_archived")
    assert "2 posts failed for good" in text_of(router, VIEWER, "/health")
    assert "2 posts dropped" in text_of(router, ADMIN, "/outbox drop all")
    assert "posts to slack:CGONE" not in text_of(router, VIEWER, "/health")
    with Session(engine) as session:
        row = session.get(OutboxPost, first)
        assert row is not None and row.status == "dropped"


def test_bad_outbox_arguments_are_answered_with_the_usage(engine: Engine) -> None:
    router = router_for(engine)
    assert "/outbox retry <id|all>" in text_of(router, ADMIN, "/outbox resend 3")
    assert "not valid" in text_of(router, ADMIN, "/outbox retry 99999999999")
    assert "No failed post #7 to retry" in text_of(router, ADMIN, "/outbox retry 7")
