"""The outbox's state by platform, read from its rows for `/metrics`.

Depth is the posts not yet sent (pending, or claimed and being sent); a post that
waits because no adapter serves its platform is pending too and counts. Failed
delivery attempts are derived from each row's attempt count: a sent post failed
every attempt but its last, any other post failed every attempt it made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from storage.models import OutboxPost

outbox = OutboxPost.__table__  # type: ignore[attr-defined]

WAITING = ("pending", "sending")


@dataclass
class PlatformOutbox:
    waiting: int = 0
    oldest_waiting: datetime | None = None
    sent: int = 0
    given_up: int = 0  # status failed: no more attempts
    failed_attempts: int = 0


def platform_of(target: str) -> str:
    """'slack:C0123' → 'slack': the label, never the channel id."""
    return target.partition(":")[0]


def read_outbox(connection: Connection) -> dict[str, PlatformOutbox]:
    """Platform → its posts' state. One GROUP BY over (target, status)."""
    failed_attempts = case(
        (outbox.c.status == "sent", outbox.c.attempts - 1), else_=outbox.c.attempts
    )
    query = select(
        outbox.c.target,
        outbox.c.status,
        func.count(),
        func.min(outbox.c.created_at),
        func.sum(failed_attempts),
    ).group_by(outbox.c.target, outbox.c.status)
    found: dict[str, PlatformOutbox] = {}
    for target, status, count, oldest, failures in connection.execute(query):
        state = found.setdefault(platform_of(target), PlatformOutbox())
        state.failed_attempts += max(int(failures or 0), 0)
        if status in WAITING:
            state.waiting += int(count)
            candidates = [t for t in (state.oldest_waiting, oldest) if t is not None]
            state.oldest_waiting = min(candidates, default=None)
        elif status == "sent":
            state.sent += int(count)
        elif status == "failed":
            state.given_up += int(count)
    return found
