"""Every outgoing post is written here before it is sent, so a crash or a 429 never
loses one.

A row per target goes pending → sending → sent; a failure goes back to pending with
a backoff (Retry-After honoured, at most RETRY_AFTER_CAP). An answer that means
*later* — a rate limit, a 5xx, no connection, a timeout — never spends an attempt
budget: the post is delayed, never dropped. It fails for good only on an answer that
means *never* (channel not found, not in channel, token revoked…), or after
`max_attempts` of errors nobody classified (a bug); a failed post stays in health
until someone acts on it (`/outbox retry`). Claims are a conditional UPDATE, so two
senders (two replicas) never take the same row.

A post is `sent` only when a platform accepted it: a deliverer returns only then.
A sender takes only posts for platforms it serves (an adapter, or `log:`); the rest
stay pending, and health names them.

Uncertain sends: a row left `sending` by a dead sender (its pid on this host, or a
claim older than `stale_claim`), or an attempt that timed out, may have reached the
platform. It is marked `uncertain_at` and not retried before `settle` has passed (a
request the platform was still processing has landed by then). The deliverer is
told (`Post.uncertain_since`) and reconciles where the platform allows it (Slack:
it looks for the post's metadata in the channel's recent history); where it does
not (Telegram), the post is sent again: at-least-once, measured by
bench/outbox_faults.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy import ColumnElement, and_, case, false, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from jobs.core.processes import stopped_here
from jobs.core.reply import Reply
from jobs.core.scrub import scrub_cut
from jobs.outbox.answers import (
    RETRY_AFTER_CAP_S,
    PermanentFailure,
    RetryAfter,
    is_uncertain,
    means_later,
)
from jobs.outbox.kept import KeptOutcomes
from storage.db import session_scope
from storage.durable import is_unavailable, note_available, note_unavailable
from storage.leadership import one_line
from storage.models import OutboxPost, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Post:
    id: int
    kind: str
    platform: str
    target_id: str
    reply: Reply
    attempt: int
    # When an earlier attempt may have reached the platform; None: none did.
    uncertain_since: datetime | None = None
    # The platform's id of the message this post answers in the thread of.
    thread_ref: str | None = None


class Deliverer(Protocol):
    """A chat adapter's way to send one post; returns the platform's message id.

    The contract: return only when the platform ACCEPTED the whole post (the outbox
    then marks it sent); raise when it did not or when that is unknown (a timeout
    is uncertain: see is_uncertain). Never log-and-return for a platform that is
    not there. When `post.uncertain_since` is set, an earlier attempt may have
    arrived: look for it first where the platform allows (Slack does)."""

    async def deliver(self, post: Post) -> str | None: ...


# A post of this kind redraws the message its thread_of names (Slack chat.update,
# Telegram editMessageText) instead of posting one; nothing when that was never sent.
EDIT_KIND = "edit"


def post_key(dedupe_key: str, target: str) -> str:
    """The dedupe_key of the post `enqueue(dedupe_key=…)` writes for `target`."""
    return f"{dedupe_key}|{target}"[:200]


def enqueue(
    engine: Engine,
    *,
    kind: str,
    targets: Iterable[str],
    reply: Reply,
    dedupe_key: str,
    thread_of: str | None = None,
) -> list[int]:
    """Write a post for each target. Idempotent: the same dedupe_key and target again
    adds nothing (a re-run digest or a redelivered command posts once). `thread_of`:
    the dedupe_key of an earlier post to answer in the thread of, in each target."""
    ids: list[int] = []
    for target in dict.fromkeys(targets):
        key = post_key(dedupe_key, target)
        row = OutboxPost(
            dedupe_key=key,
            kind=kind,
            target=target,
            reply_json=reply.scrubbed().model_dump_json(),
            thread_key=post_key(thread_of, target) if thread_of else None,
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
        worker_id: str = "sender",
        max_attempts: int = 12,
        base_delay: float = 2.0,
        stale_claim: timedelta = timedelta(minutes=5),
        settle: timedelta = timedelta(minutes=2),
        clock: Callable[[], datetime] = utcnow,
        on_sent: Callable[[str, Reply], None] | None = None,
    ) -> None:
        self.engine = engine
        self.deliverers = dict(deliverers)
        self.worker_id = worker_id
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.stale_claim = stale_claim
        self.settle = settle
        self.clock = clock
        # What a delivered post means beyond `sent` (target, reply): where findings were
        # shown. It runs only after the platform accepted the post.
        self.on_sent = on_sent
        self.kept = KeptOutcomes()  # outcomes a database fault kept from being written

    def _served(self) -> ColumnElement[bool]:
        """Targets of the platforms this sender has a deliverer for."""
        if not self.deliverers:
            return false()
        return or_(*(col(OutboxPost.target).startswith(f"{p}:") for p in self.deliverers))

    def _takeable(self, now: datetime, *, due_only: bool) -> ColumnElement[bool]:
        """Pending (and due), or claimed by a sender that has gone quiet; for a
        platform this sender serves."""
        pending = col(OutboxPost.status) == "pending"
        if due_only:
            pending = and_(pending, col(OutboxPost.next_attempt_at) <= now)
        stale = and_(
            col(OutboxPost.status) == "sending",
            col(OutboxPost.claimed_at) < now - self.stale_claim,
        )
        return and_(or_(pending, stale), self._served())

    def reclaim_dead_claims(self) -> list[int]:
        """Rows left `sending` by a sender process on this host that is gone go back
        to pending as uncertain (retried after `settle`, reconciled first)."""
        reclaimed: list[int] = []
        with session_scope(self.engine) as session:
            rows = session.exec(select(OutboxPost).where(col(OutboxPost.status) == "sending")).all()
            for row in rows:
                if not stopped_here(row.claimed_by or "", self.worker_id):
                    continue
                since = row.claimed_at or self.clock()
                changed = session.execute(
                    update(OutboxPost)
                    .where(col(OutboxPost.id) == row.id, col(OutboxPost.status) == "sending")
                    .where(col(OutboxPost.claimed_by) == row.claimed_by)
                    .values(
                        status="pending",
                        claimed_by=None,
                        claimed_at=None,
                        uncertain_at=row.uncertain_at or since,
                        next_attempt_at=since + self.settle,
                    )
                )
                if changed.rowcount == 1:  # type: ignore[attr-defined]
                    assert row.id is not None
                    reclaimed.append(row.id)
        if reclaimed:
            log.warning("posts %s were being sent by a stopped process: uncertain", reclaimed)
        return reclaimed

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
            was_sending = col(OutboxPost.status) == "sending"
            claimed = session.execute(
                update(OutboxPost)
                .where(col(OutboxPost.id) == post_id)
                .where(self._takeable(now, due_only=False))
                .values(
                    status="sending",
                    claimed_by=self.worker_id,
                    claimed_at=now,
                    # Taken over from a quiet sender: its attempt may have landed.
                    uncertain_at=case(
                        (
                            and_(was_sending, col(OutboxPost.uncertain_at).is_(None)),
                            col(OutboxPost.claimed_at),
                        ),
                        else_=col(OutboxPost.uncertain_at),
                    ),
                )
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
        await asyncio.to_thread(self.kept.flush)
        for post_id in await asyncio.to_thread(self._due_ids, limit):
            row = await asyncio.to_thread(self._claim, post_id)
            if row is None:
                continue  # another sender has it
            if await self._deliver(row):
                sent += 1
        return sent

    def _thread(self, row: OutboxPost) -> tuple[bool, str | None]:
        """(ready, the parent's message id): a reply waits while the post it answers
        is still to be sent; a parent that failed for good (or is gone) leaves it
        posted on its own."""
        if row.thread_key is None:
            return True, None
        with Session(self.engine) as session:
            parent = session.exec(
                select(OutboxPost).where(col(OutboxPost.dedupe_key) == row.thread_key)
            ).first()
        if parent is not None and parent.status in ("pending", "sending"):
            assert row.id is not None
            wait = timedelta(seconds=self.base_delay)
            self._finish(
                row.id,
                status="pending",
                claimed_by=None,
                claimed_at=None,
                next_attempt_at=self.clock() + wait,
            )
            return False, None
        return True, parent.message_ref if parent is not None else None

    async def _deliver(self, row: OutboxPost) -> bool:
        assert row.id is not None
        ready, thread_ref = await asyncio.to_thread(self._thread, row)
        if not ready:
            return False
        platform, _, target_id = row.target.partition(":")
        deliverer = self.deliverers[platform]  # _takeable took only served platforms
        attempt = row.attempts + 1
        post = Post(
            row.id,
            row.kind,
            platform,
            target_id,
            Reply.model_validate_json(row.reply_json),
            attempt,
            uncertain_since=row.uncertain_at,
            thread_ref=thread_ref,
        )
        started = self.clock()
        try:
            message_ref = await deliverer.deliver(post)
        except Exception as exc:
            failed = partial(self._failed, row, attempt, exc, started)
            await asyncio.to_thread(self.kept.write_or_keep, failed, row.id)
            return False
        sent = partial(self._finish, row.id, status="sent", attempts=attempt, sent_at=self.clock())
        sent = partial(sent, message_ref=message_ref, last_error=None, uncertain_at=None)
        await asyncio.to_thread(self.kept.write_or_keep, sent, row.id)
        if self.on_sent is not None:
            try:
                await asyncio.to_thread(self.on_sent, row.target, post.reply)
            except Exception:  # the post is out; what it shows is recorded on a best effort
                log.exception("post %s was sent; recording what it shows failed", row.id)
        return True

    def _failed(self, row: OutboxPost, attempt: int, exc: Exception, started: datetime) -> None:
        assert row.id is not None
        error = scrub_cut(f"{type(exc).__name__}: {exc}", 2000)
        uncertain = row.uncertain_at or (started if is_uncertain(exc) else None)
        if isinstance(exc, PermanentFailure) or (
            not means_later(exc) and attempt >= self.max_attempts
        ):
            log.error("post %s to %s failed for good: %s", row.id, row.target, error)
            self._finish(row.id, status="failed", attempts=attempt, last_error=error)
            return
        delay = backoff(attempt, self.base_delay)
        if isinstance(exc, RetryAfter):
            delay = min(max(exc.seconds, 0.0), RETRY_AFTER_CAP_S)
        next_at = self.clock() + timedelta(seconds=delay)
        if uncertain is not None:
            next_at = max(next_at, uncertain + self.settle)
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
            next_attempt_at=next_at,
            claimed_by=None,
            claimed_at=None,
            uncertain_at=uncertain,
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
        failing = 0
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.reclaim_dead_claims)
                await self.send_due()
                wait = await asyncio.to_thread(self.next_due_in)
                failing = 0
                note_available(self.engine)
            except Exception as exc:
                # A database outage is one line now and then, not a traceback a second.
                failing += 1
                if not is_unavailable(exc):
                    log.exception("outbox pass failed; trying again")
                else:
                    note_unavailable(self.engine, self.clock())
                    if failing & (failing - 1) == 0:
                        log.warning("outbox: the database is unavailable (%s)", one_line(exc))
                wait = poll_interval
            timeout = poll_interval if wait is None else min(poll_interval, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(timeout, 0.05))
