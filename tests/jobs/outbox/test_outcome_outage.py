"""A post's outcome that a database fault kept from being written, on a real
PostgreSQL reached through a proxy the test cuts: the platform took the post, the
write of `sent` failed; the sender keeps it and writes it when the database returns,
so the post is not claimed until its claim goes stale and then sent a second time."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from sqlmodel import Session, select

from jobs.core.reply import Reply
from jobs.outbox.delivery import OutboxSender, Post, enqueue
from storage import migrate
from storage.db import make_engine
from storage.models import OutboxPost
from tests.standins.chat_webhook import ChatWebhook, served
from tests.support.clock import TravelClock
from tests.support.tcp_proxy import TcpProxy, tcp_proxy_for

pytestmark = pytest.mark.postgres


class CutAfterAccepted:
    """POSTs the post to the chat stand-in; once it is taken, cuts the database."""

    def __init__(self, url: str, proxy: TcpProxy) -> None:
        self.url, self.proxy = url, proxy

    async def deliver(self, post: Post) -> str | None:
        payload = {"post": post.id, "title": post.reply.title}
        async with aiohttp.ClientSession() as session, session.post(self.url, json=payload) as r:
            ts = str((await r.json())["ts"])
        self.proxy.cut()
        return ts


async def test_a_sent_post_whose_record_failed_is_recorded_later_and_sent_once(
    pg_url: str,
) -> None:
    migrate.upgrade(make_engine(pg_url))
    endpoint = ChatWebhook()
    with tcp_proxy_for(pg_url) as proxy:
        engine = make_engine(proxy.url_for(pg_url))
        enqueue(engine, kind="digest", targets=["hook:team"], reply=Reply.text("hi", "Digest"),
                dedupe_key="digest:1")  # fmt: skip
        clock = TravelClock()  # the post is due now
        async with served(endpoint) as url:
            sender = OutboxSender(
                engine, {"hook": CutAfterAccepted(url, proxy)}, worker_id="a", clock=clock
            )
            assert await sender.send_due() == 1  # taken by the platform, not yet recorded
            proxy.restore()
            await sender.send_due()  # writes what it kept first
            clock.advance(minutes=10)  # long past a stale claim
            assert await sender.send_due() == 0
        with Session(engine) as session:
            post = session.exec(select(OutboxPost)).one()
        engine.dispose()
    assert post.status == "sent" and post.message_ref == "m1"
    assert len(endpoint.delivered) == 1
    assert sender.stale_claim < timedelta(minutes=10)
