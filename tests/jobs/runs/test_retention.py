"""Retention: finished runs and delivered posts past `[storage] keep_runs` go; running
runs, waiting and failed posts, and everything the digest reads stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.outbox.delivery import enqueue
from jobs.runs import records as runs
from jobs.runs.retention import BATCH, prune
from storage.db import session_scope
from storage.models import OutboxPost, utcnow
from tests.support.rows import add_runs, run_row

KEEP = timedelta(days=90)


def post_aged(engine: Engine, key: str, status: str, age: timedelta) -> int:
    [post_id] = enqueue(engine, kind="job", targets=["log:"], reply=Reply.text(key), dedupe_key=key)
    with session_scope(engine) as session:
        row = session.get(OutboxPost, post_id)
        assert row is not None
        row.status, row.created_at = status, utcnow() - age
    return post_id


def test_old_finished_runs_and_delivered_posts_go_the_rest_stays(engine: Engine) -> None:
    now = utcnow()
    old, recent = now - timedelta(days=120), now - timedelta(days=20)
    rows = [run_row("tick", old, 1), run_row("tick", old, 1, status="missed")]
    rows += [run_row("stuck", old, 1, status="running"), run_row("tick", recent, 1)]
    add_runs(engine, rows)
    kept_posts = {
        post_aged(engine, "waiting", "pending", timedelta(days=120)),
        post_aged(engine, "lost", "failed", timedelta(days=120)),
        post_aged(engine, "new", "sent", timedelta(days=2)),
    }
    post_aged(engine, "old-sent", "sent", timedelta(days=120))
    post_aged(engine, "old-dropped", "dropped", timedelta(days=120))

    pruned = prune(engine, KEEP, now)

    assert (pruned.runs, pruned.posts) == (2, 2)
    left = runs.runs_of(engine)
    assert sorted((row.job, row.status) for row in left) == [("stuck", "running"), ("tick", "ok")]
    with Session(engine) as session:
        assert {row.id for row in session.exec(select(OutboxPost)).all()} == kept_posts
    assert prune(engine, KEEP, now) == pruned.__class__(0, 0)


def test_more_than_one_batch_is_deleted(sqlite_engine: Engine) -> None:
    old = utcnow() - timedelta(days=200)
    add_runs(sqlite_engine, [run_row("tick", old, 1) for _ in range(BATCH + 5)])
    assert prune(sqlite_engine, KEEP, utcnow()).runs == BATCH + 5
    assert runs.runs_of(sqlite_engine) == []


def test_keep_runs_cannot_cut_into_what_the_digest_reads() -> None:
    assert Config().storage.keep_runs == KEEP
    assert Config.model_validate({"storage": {"keep_runs": "35d"}}).storage.keep_runs.days == 35
    with pytest.raises(ValidationError, match="14-day baseline"):
        Config.model_validate({"storage": {"keep_runs": "14d"}})
