"""The outbox seen from outside the sender: posts still waiting per platform (for
health), and claims a stopping sender hands back (for the next start)."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import session_scope
from storage.models import OutboxPost


def waiting_posts(engine: Engine) -> dict[str, int]:
    """Pending or sending posts per platform."""
    with Session(engine) as session:
        targets = session.exec(
            select(OutboxPost.target).where(col(OutboxPost.status).in_(["pending", "sending"]))
        ).all()
    counts: dict[str, int] = {}
    for target in targets:
        platform = target.partition(":")[0]
        counts[platform] = counts.get(platform, 0) + 1
    return counts


def release_claims(engine: Engine, worker_id: str) -> int:
    """Shutdown: hand back the posts this sender has claimed but not finished (e.g.
    one waiting out a 429), so the next start sends them at once instead of after
    `stale_claim`. A send cut off mid-request may have landed, so each is marked
    uncertain since its claim: the next attempt reconciles before it resends (Slack
    reads the channel back), without waiting for `settle`. Returns how many."""
    with session_scope(engine) as session:
        result = session.execute(
            update(OutboxPost)
            .where(col(OutboxPost.status) == "sending", col(OutboxPost.claimed_by) == worker_id)
            .values(
                status="pending",
                claimed_by=None,
                claimed_at=None,
                uncertain_at=func.coalesce(
                    col(OutboxPost.uncertain_at), col(OutboxPost.claimed_at)
                ),
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
