"""Posts that failed for good, until someone acts on them: `/outbox` lists them,
`/outbox retry` sends them again (after the channel was fixed, the bot invited),
`/outbox drop` lets them go. Health shows them as long as they are there: a later
post that goes through does not hide an earlier one that never did."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from storage.db import session_scope
from storage.models import OutboxPost, utcnow

# Given up on by someone: kept for the record, no longer shown as a problem.
DROPPED = "dropped"


@dataclass(frozen=True)
class FailedPost:
    id: int
    target: str
    kind: str
    error: str


@dataclass(frozen=True)
class FailedTarget:
    target: str
    count: int
    error: str  # the newest failed post's


def failed_posts(engine: Engine, limit: int = 20) -> list[FailedPost]:
    """The newest posts that failed for good, newest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxPost)
            .where(col(OutboxPost.status) == "failed")
            .order_by(col(OutboxPost.id).desc())
            .limit(limit)
        ).all()
    return [
        FailedPost(row.id or 0, row.target, row.kind, row.last_error or "failed") for row in rows
    ]


def failed_by_target(engine: Engine) -> list[FailedTarget]:
    """Each target with posts that failed for good: how many, and the newest error."""
    with Session(engine) as session:
        counts = session.exec(
            select(OutboxPost.target, func.count(), func.max(OutboxPost.id))
            .where(col(OutboxPost.status) == "failed")
            .group_by(col(OutboxPost.target))
            .order_by(col(OutboxPost.target))
        ).all()
        found = []
        for target, count, newest in counts:
            row = session.get(OutboxPost, newest)
            error = (row.last_error if row is not None else None) or "failed"
            found.append(FailedTarget(target, int(count), error))
    return found


def retry_failed(engine: Engine, post_id: int | None = None) -> int:
    """Failed posts (one, or all) back to pending with a fresh attempt count; how many."""
    return _move_failed(engine, post_id, status="pending", attempts=0, next_attempt_at=utcnow())


def drop_failed(engine: Engine, post_id: int | None = None) -> int:
    """Failed posts (one, or all) given up on by someone; how many."""
    return _move_failed(engine, post_id, status=DROPPED)


def _move_failed(engine: Engine, post_id: int | None, **values: object) -> int:
    statement = update(OutboxPost).where(col(OutboxPost.status) == "failed")
    if post_id is not None:
        statement = statement.where(col(OutboxPost.id) == post_id)
    with session_scope(engine) as session:
        result = session.execute(statement.values(**values))
        return int(result.rowcount)  # type: ignore[attr-defined]
