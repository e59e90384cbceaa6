"""The outbox against a real HTTP endpoint on 127.0.0.1 that fails before it answers;
backoffs, Retry-After and the settle time pass on the sender's clock, not the wall's."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.log_deliverer import LogDeliverer
from jobs.core.reply import Reply
from jobs.health.checks import check_outbox
from jobs.outbox.answers import RetryAfter, is_uncertain
from jobs.outbox.delivery import OutboxSender, Post, enqueue
from storage.models import OutboxPost, utcnow
from tests.standins.chat_webhook import ChatWebhook, served
from tests.support.clock import TravelClock
from tests.support.waiting import commits


class HttpDeliverer:
    """A minimal chat API client: POST the post as JSON; 429 → RetryAfter."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def deliver(self, post: Post) -> str | None:
        payload = {"post": post.id, "to": post.target_id, "title": post.reply.title}
        async with aiohttp.ClientSession() as session, session.post(self.url, json=payload) as r:
            if r.status == 429:
                raise RetryAfter(float(r.headers.get("Retry-After", "1")))
            if r.status >= 400:
                raise RuntimeError(f"HTTP {r.status}")
            return str((await r.json())["ts"])


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[ChatWebhook, str]]:
    """A webhook that fails twice with HTTP 500, then accepts."""
    endpoint = ChatWebhook(failures=2)
    async with served(endpoint) as url:
        yield endpoint, url


def row(engine: Engine) -> OutboxPost:
    with Session(engine) as session:
        return session.exec(select(OutboxPost)).one()


def sender(engine: Engine, url: str, name: str, clock: TravelClock | None = None) -> OutboxSender:
    return OutboxSender(
        engine, {"hook": HttpDeliverer(url)}, worker_id=name, clock=clock or TravelClock()
    )


async def one_pass_when_due(outbox: OutboxSender, clock: TravelClock) -> int:
    """Travel to when the next retry falls due, and send what is due then."""
    wait = await asyncio.to_thread(outbox.next_due_in)
    assert wait is not None and 0 < wait <= 4  # the backoff: 2 s, then 4 s
    clock.advance(seconds=wait)
    return await outbox.send_due()


def enqueue_the_digest(engine: Engine) -> None:
    """The day's digest for hook:team; enqueued again, it is the same post."""
    enqueue(
        engine,
        kind="digest",
        targets=["hook:team"],
        reply=Reply.text("hi", "Digest"),
        dedupe_key="digest:2024-05-01",
    )


async def test_delivers_after_two_failures_across_a_restart_exactly_once(
    engine: Engine, flaky: tuple[ChatWebhook, str]
) -> None:
    endpoint, url = flaky
    enqueue_the_digest(engine)

    clock = TravelClock()
    first = sender(engine, url, "first", clock)
    assert await first.send_due() == 0
    failed_once = row(engine)
    assert (failed_once.status, failed_once.attempts) == ("pending", 1)
    assert "HTTP 500" in (failed_once.last_error or "")
    del first  # the process stops between the failure and the retry

    restarted = sender(engine, url, "restarted", clock)
    assert await restarted.send_due() == 0, "not before the backoff"
    assert await one_pass_when_due(restarted, clock) == 0  # second failure
    assert row(engine).attempts == 2
    assert await one_pass_when_due(restarted, clock) == 1  # then the endpoint answers
    sent = row(engine)
    assert (sent.status, sent.attempts, sent.message_ref) == ("sent", 3, "m1")
    assert len(endpoint.requests) == 3
    assert endpoint.delivered == [{"post": sent.id, "to": "team", "title": "Digest"}]

    # Nothing sends it again: not this sender, not another one, not a re-enqueue.
    enqueue_the_digest(engine)
    clock.advance(hours=1)
    assert await restarted.send_due() == 0
    assert await sender(engine, url, "third", clock).send_due() == 0
    assert len(endpoint.delivered) == 1


async def test_retry_after_is_honoured(engine: Engine) -> None:
    endpoint = ChatWebhook(failures=1, fail_status=429, retry_after="3")
    async with served(endpoint) as url:
        enqueue(engine, kind="alert", targets=["hook:c"], reply=Reply.text("x"), dedupe_key="a")
        clock = TravelClock()
        outbox = sender(engine, url, "s", clock)
        assert await outbox.send_due() == 0
        assert await asyncio.to_thread(outbox.next_due_in) == 3.0  # not the 2 s backoff
        assert await outbox.send_due() == 0, "not before Retry-After"
        clock.advance(seconds=2.9)
        assert await outbox.send_due() == 0, "not before Retry-After"
        clock.advance(seconds=0.1)
        assert await outbox.send_due() == 1
    assert len(endpoint.requests) == 2
    assert len(endpoint.delivered) == 1


async def test_two_senders_at_once_deliver_once(
    engine: Engine, flaky: tuple[ChatWebhook, str]
) -> None:
    endpoint, url = flaky
    endpoint.failures = 0
    enqueue(
        engine, kind="job", targets=["hook:a", "hook:b"], reply=Reply.text("x"), dedupe_key="run:1"
    )
    sent = await asyncio.gather(
        sender(engine, url, "one").send_due(), sender(engine, url, "two").send_due()
    )
    assert sum(sent) == 2
    assert sorted(str(d["to"]) for d in endpoint.delivered) == ["a", "b"]


async def test_a_platform_without_an_adapter_stays_pending_and_health_says_so(
    engine: Engine,
) -> None:
    enqueue(engine, kind="job", targets=["slack:C1"], reply=Reply.text("x"), dedupe_key="k")
    assert await OutboxSender(engine, {"log": LogDeliverer()}).send_due() == 0
    waiting = row(engine)
    assert (waiting.status, waiting.attempts, waiting.sent_at) == ("pending", 0, None)
    outbox = check_outbox(engine, utcnow())
    assert outbox.status == "late"
    assert outbox.detail == "posts waiting with no running adapter to send them: 1 for slack"


class TimingOutDeliverer(HttpDeliverer):
    """Gives up after 0.1 s, as an HTTP client with a timeout does."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.seen: list[Post] = []

    async def deliver(self, post: Post) -> str | None:
        self.seen.append(post)
        return await asyncio.wait_for(super().deliver(post), 0.1)


async def test_a_timed_out_send_is_uncertain_and_waits_to_settle_before_a_resend(
    engine: Engine,
) -> None:
    endpoint = ChatWebhook(delay=0.5)  # accepts every post, answers after 0.5 s
    async with served(endpoint) as url:
        enqueue(engine, kind="job", targets=["hook:a"], reply=Reply.text("x"), dedupe_key="k")
        deliverer = TimingOutDeliverer(url)
        clock = TravelClock()
        outbox = OutboxSender(
            engine, {"hook": deliverer}, base_delay=0.01, settle=timedelta(seconds=1), clock=clock
        )
        assert await outbox.send_due() == 0
        first = row(engine)
        assert first.status == "pending" and first.uncertain_at is not None
        assert first.next_attempt_at >= first.uncertain_at + timedelta(seconds=1)
        assert await outbox.send_due() == 0 and len(deliverer.seen) == 1, "not before settle"
        clock.advance(seconds=0.9)
        assert await outbox.send_due() == 0 and len(deliverer.seen) == 1, "not before settle"
        clock.advance(seconds=0.2)
        endpoint.delay = 0
        assert await outbox.send_due() == 1
        assert deliverer.seen[1].uncertain_since == first.uncertain_at
    assert row(engine).uncertain_at is None


async def test_a_dead_local_senders_claim_comes_back_uncertain(engine: Engine) -> None:
    enqueue(engine, kind="job", targets=["log:x"], reply=Reply.text("x"), dedupe_key="k")
    dead = subprocess.Popen(["true"])
    dead.wait()
    with Session(engine, expire_on_commit=False) as session:
        claimed = session.exec(select(OutboxPost)).one()
        claimed.status, claimed.claimed_by = "sending", f"{socket.gethostname()}:{dead.pid}"
        claimed.claimed_at = utcnow()
        session.add(claimed)
        session.commit()
    me = f"{socket.gethostname()}:{os.getpid()}"
    outbox = OutboxSender(engine, {"log": LogDeliverer()}, worker_id=me, settle=timedelta(0))
    assert outbox.reclaim_dead_claims() == [claimed.id]
    back = row(engine)
    assert back.status == "pending" and back.uncertain_at == claimed.claimed_at
    assert await outbox.send_due() == 1


async def test_run_loop_sends_and_stops(engine: Engine, flaky: tuple[ChatWebhook, str]) -> None:
    endpoint, url = flaky
    endpoint.failures = 1
    enqueue(engine, kind="job", targets=["hook:a"], reply=Reply.text("x"), dedupe_key="k")
    stop = asyncio.Event()
    loop = OutboxSender(engine, {"hook": HttpDeliverer(url)}, worker_id="loop", base_delay=0.05)
    with commits() as committed:
        task = asyncio.create_task(loop.run(stop, poll_interval=0.05))
        await committed.until(lambda: row(engine).status == "sent")
    stop.set()
    await asyncio.wait_for(task, 30)
    assert len(endpoint.requests) == 2  # one failure, then the retry the loop made
    assert len(endpoint.delivered) == 1


def test_an_exception_chain_that_loops_is_judged_without_hanging() -> None:
    outer = RuntimeError("Slack said 500")
    inner = ValueError("inner")
    outer.__context__, inner.__context__ = inner, outer  # `raise x from y` can make this
    assert is_uncertain(outer) is False
    timed_out = RuntimeError("wrapped")
    timed_out.__cause__ = TimeoutError()
    assert is_uncertain(timed_out) is True


async def test_a_stale_claim_from_another_host_is_taken_over_as_uncertain(engine: Engine) -> None:
    enqueue(engine, kind="job", targets=["log:x"], reply=Reply.text("x"), dedupe_key="k")
    long_ago = utcnow() - timedelta(minutes=10)
    with Session(engine, expire_on_commit=False) as session:
        claimed = session.exec(select(OutboxPost)).one()
        claimed.status, claimed.claimed_by, claimed.claimed_at = "sending", "elsewhere:7", long_ago
        session.add(claimed)
        session.commit()
    seen: list[Post] = []

    class Recording(LogDeliverer):
        async def deliver(self, post: Post) -> str | None:
            seen.append(post)
            return await super().deliver(post)

    assert await OutboxSender(engine, {"log": Recording()}, worker_id="here:1").send_due() == 1
    assert seen[0].uncertain_since == long_ago
    assert row(engine).status == "sent" and row(engine).uncertain_at is None
