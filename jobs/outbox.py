"""Every outgoing post is written here before it is sent, so a crash or a 429 never
loses one and a retry never posts it twice.

A row per target goes pending → sending → sent; a failure goes back to pending with
a backoff (Retry-After honoured) until the last attempt marks it failed. Claims are
a conditional UPDATE, so two senders (two replicas) never take the same row. A row
left `sending` by a crashed sender is taken again after `stale_claim`: the one case
in which a post may repeat, chosen over losing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from jobs.reply import Reply
from storage.db import session_scope
from storage.models import OutboxPost, utcnow

log = logging.getLogger(__name__)


class RetryAfter(Exception):
    """The platform asked us to wait (HTTP 429, Telegram's RetryAfter)."""

    def __init__(self, seconds: float, reason: str = "rate limited") -> None:
        super().__init__(f"{reason}; retry after {seconds:g}s")
        self.seconds = seconds


class PermanentFailure(Exception):
    """Retrying cannot help (channel not found, bot not in chat, bad request)."""


@dataclass(frozen=True)
class Post:
    id: int
    kind: str
    platform: str
    target_id: str
    reply: Reply
    attempt: int


class Deliverer(Protocol):
    """A chat adapter's way to send one post; returns the platform's message id."""

    async def deliver(self, post: Post) -> str | None: ...


def enqueue(
    engine: Engine, *, kind: str, targets: Iterable[str], reply: Reply, dedupe_key: str
) -> list[int]:
    """Write a post for each target. Idempotent: the same dedupe_key and target again
    adds nothing (a re-run digest or a redelivered command posts once)."""
    ids: list[int] = []
    for target in dict.fromkeys(targets):
        key = f"{dedupe_key}|{target}"[:200]
        row = OutboxPost(
            dedupe_key=key, kind=kind, target=target, reply_json=reply.model_dump_json()
        )
        try:
            with session_scope(engine) as session:
                session.add(row)
                session.flush()
                assert row.id is not None
                ids.append(row.id)
        except IntegrityError:
            with Session(engine) as session:
                existing = session.exec(
                    select(OutboxPost).where(OutboxPost.dedupe_key == key)
                ).one()
                assert existing.id is not None
                ids.append(existing.id)
    return ids


def backoff(attempt: int, base: float = 2.0, cap: float = 900.0) -> float:
    """Seconds before retry number `attempt` (1-based): 2, 4, 8, … capped at 15 min."""
    return float(min(cap, base * 2 ** max(0, attempt - 1)))


class OutboxSender:
    def __init__(
        self,
        engine: Engine,
        deliverers: Mapping[str, Deliverer],
        *,
        fallback: Deliverer | None = None,
        worker_id: str = "sender",
        max_attempts: int = 12,
        base_delay: float = 2.0,
        stale_claim: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.deliverers = dict(deliverers)
        self.fallback = fallback
        self.worker_id = worker_id
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.stale_claim = stale_claim
        self.clock = clock

    def _takeable(self, now: datetime, *, due_only: bool) -> ColumnElement[bool]:
        """Pending (and due), or claimed by a sender that has gone quiet."""
        pending = col(OutboxPost.status) == "pending"
        if due_only:
            pending = and_(pending, col(OutboxPost.next_attempt_at) <= now)
        stale = and_(
            col(OutboxPost.status) == "sending",
            col(OutboxPost.claimed_at) < now - self.stale_claim,
        )
        return or_(pending, stale)

    def _due_ids(self, limit: int) -> list[int]:
        now = self.clock()
        with Session(self.engine) as session:
            query = (
                select(OutboxPost.id)
                .where(self._takeable(now, due_only=True))
                .order_by(col(OutboxPost.id))
                .limit(limit)
            )
            return [i for i in session.exec(query).all() if i is not None]

    def _claim(self, post_id: int) -> OutboxPost | None:
        now = self.clock()
        with session_scope(self.engine) as session:
            claimed = session.execute(
                update(OutboxPost)
                .where(col(OutboxPost.id) == post_id)
                .where(self._takeable(now, due_only=False))
                .values(status="sending", claimed_by=self.worker_id, claimed_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return session.get(OutboxPost, post_id)

    def _finish(self, post_id: int, **values: object) -> None:
        with session_scope(self.engine) as session:
            session.execute(
                update(OutboxPost).where(col(OutboxPost.id) == post_id).values(**values)
            )

    async def send_due(self, limit: int = 50) -> int:
        """Deliver what is due now; returns how many were sent."""
        sent = 0
        for post_id in await asyncio.to_thread(self._due_ids, limit):
            row = await asyncio.to_thread(self._claim, post_id)
            if row is None:
                continue  # another sender has it
            if await self._deliver(row):
                sent += 1
        return sent

    async def _deliver(self, row: OutboxPost) -> bool:
        assert row.id is not None
        platform, _, target_id = row.target.partition(":")
        deliverer = self.deliverers.get(platform, self.fallback)
        attempt = row.attempts + 1
        if deliverer is None:
            await asyncio.to_thread(
                self._finish,
                row.id,
                status="failed",
                attempts=attempt,
                last_error=f"no way to post to {platform!r}: that adapter is not configured",
            )
            return False
        post = Post(
            row.id,
            row.kind,
            platform,
            target_id,
            Reply.model_validate_json(row.reply_json),
            attempt,
        )
        try:
            message_ref = await deliverer.deliver(post)
        except Exception as exc:
            await asyncio.to_thread(self._failed, row, attempt, exc)
            return False
        await asyncio.to_thread(
            self._finish,
            row.id,
            status="sent",
            attempts=attempt,
            sent_at=self.clock(),
            message_ref=message_ref,
            last_error=None,
        )
        return True

    def _failed(self, row: OutboxPost, attempt: int, exc: Exception) -> None:
        assert row.id is not None
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if isinstance(exc, PermanentFailure) or attempt >= self.max_attempts:
            log.error("post %s to %s failed for good: %s", row.id, row.target, error)
            self._finish(row.id, status="failed", attempts=attempt, last_error=error)
            return
        delay = backoff(attempt, self.base_delay)
        if isinstance(exc, RetryAfter):
            delay = max(exc.seconds, 0.0)
        log.warning(
            "post %s to %s failed (attempt %s), retrying in %.1fs: %s",
            row.id,
            row.target,
            attempt,
            delay,
            error,
        )
        self._finish(
            row.id,
            status="pending",
            attempts=attempt,
            last_error=error,
            next_attempt_at=self.clock() + timedelta(seconds=delay),
            claimed_by=None,
            claimed_at=None,
        )

    def next_due_in(self) -> float | None:
        """Seconds until the next pending post is due (None: nothing pending)."""
        with Session(self.engine) as session:
            due = session.exec(
                select(OutboxPost.next_attempt_at)
                .where(col(OutboxPost.status) == "pending")
                .order_by(col(OutboxPost.next_attempt_at))
                .limit(1)
            ).first()
        if due is None:
            return None
        return max(0.0, (due - self.clock()).total_seconds())

    async def run(self, stop: asyncio.Event, poll_interval: float = 5.0) -> None:
        """Send until `stop` is set, looking again every `poll_interval` or sooner when
        a retry falls due (posts enqueued by jobs wait at most one interval)."""
        while not stop.is_set():
            try:
                await self.send_due()
                wait = await asyncio.to_thread(self.next_due_in)
            except Exception:
                log.exception("outbox pass failed; trying again")
                wait = poll_interval
            timeout = poll_interval if wait is None else min(poll_interval, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(timeout, 0.05))


def release_claims(engine: Engine, worker_id: str) -> int:
    """Shutdown: hand back the posts this sender has claimed but not finished (e.g.
    one waiting out a 429), so the next start sends them at once instead of after
    `stale_claim`. Returns how many were released."""
    with session_scope(engine) as session:
        result = session.execute(
            update(OutboxPost)
            .where(col(OutboxPost.status) == "sending", col(OutboxPost.claimed_by) == worker_id)
            .values(status="pending", claimed_by=None, claimed_at=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
