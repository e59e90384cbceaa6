"""Auto-posts: outbox rows for `slack:<channel>` delivered to the fake Web API."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.slack.deliver import SlackDeliverer
from jobs.context import Context
from jobs.outbox import OutboxSender, enqueue
from jobs.reply import Block, Image, Reply, ReplyField
from storage.models import OutboxPost, utcnow
from tests.standins.slack_api import BOT_TOKEN, SlackApi

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def deliverer(fake: SlackApi) -> SlackDeliverer:
    from bot.slack import web_client

    return SlackDeliverer(web_client(BOT_TOKEN, fake.base_url + "api/", retry_rate_limits=False))


def digest() -> Reply:
    return Reply(
        title="Daily digest",
        blocks=[Block(text="12 runs, 9 cache hits; <!channel> from a commit message")],
        fields=[ReplyField(label="Tokens saved", value="48,200")],
        image=Image(png=PNG, title="Runs per day", filename="runs.png"),
    )


def row(context: Context, post_id: int) -> OutboxPost:
    with Session(context.engine) as session:
        post = session.get(OutboxPost, post_id)
        assert post is not None
        return post


async def test_a_digest_is_posted_with_its_chart(
    slack_api: SlackApi, slack_context: Context
) -> None:
    engine = slack_context.engine
    [post_id] = enqueue(
        engine, kind="digest", targets=["slack:C123"], reply=digest(), dedupe_key="digest:day1"
    )
    sender = OutboxSender(engine, {"slack": deliverer(slack_api)})
    assert await sender.send_due() == 1

    [message] = slack_api.ok_calls("chat.postMessage")
    assert message.args["channel"] == "C123"
    assert "&lt;!channel&gt;" in str(message.args["blocks"])
    [ask] = slack_api.ok_calls("files.getUploadURLExternal")
    assert (ask.args["filename"], int(ask.args["length"])) == ("runs.png", len(PNG))
    [upload] = slack_api.ok_calls("upload")
    assert upload.body == PNG
    [complete] = slack_api.ok_calls("files.completeUploadExternal")
    assert complete.args["channel_id"] == "C123"
    assert "Runs per day" in str(complete.args["files"])
    assert row(slack_context, post_id).status == "sent"
    assert row(slack_context, post_id).message_ref == "1700000000.000001"


async def test_a_429_is_retried_after_retry_after_and_delivered_once(
    slack_api: SlackApi, slack_context: Context
) -> None:
    engine = slack_context.engine
    [post_id] = enqueue(
        engine,
        kind="alert",
        targets=["slack:C123"],
        reply=Reply.text("nightly job is down"),
        dedupe_key="alert:1",
    )
    slack_api.rate_limit("chat.postMessage", retry_after=7)
    clock = Clock()  # after enqueue: the row is due from its creation time
    sender = OutboxSender(engine, {"slack": deliverer(slack_api)}, clock=clock)

    assert await sender.send_due() == 0
    waiting = row(slack_context, post_id)
    assert waiting.status == "pending"
    assert "429" in (waiting.last_error or "")
    assert sender.next_due_in() == 7.0
    clock.now += timedelta(seconds=6)
    assert await sender.send_due() == 0  # not before Retry-After
    clock.now += timedelta(seconds=2)
    assert await sender.send_due() == 1
    assert await sender.send_due() == 0

    assert [c.status for c in slack_api.calls if c.method == "chat.postMessage"] == [429, 200]
    assert row(slack_context, post_id).status == "sent"


async def test_a_failed_chart_upload_does_not_repost_the_message(
    slack_api: SlackApi, slack_context: Context
) -> None:
    engine = slack_context.engine
    enqueue(engine, kind="digest", targets=["slack:C123"], reply=digest(), dedupe_key="d2")
    clock = Clock()
    slack_api.rate_limit("files.completeUploadExternal", retry_after=3)
    sender = OutboxSender(engine, {"slack": deliverer(slack_api)}, clock=clock)
    assert await sender.send_due() == 0
    clock.now += timedelta(seconds=4)
    assert await sender.send_due() == 1
    assert len(slack_api.ok_calls("chat.postMessage")) == 1
    assert len(slack_api.ok_calls("files.completeUploadExternal")) == 1


async def test_an_unknown_channel_fails_for_good(
    slack_api: SlackApi, slack_context: Context
) -> None:
    engine = slack_context.engine
    slack_api.fail("chat.postMessage", "channel_not_found")
    [post_id] = enqueue(
        engine, kind="alert", targets=["slack:CGONE"], reply=Reply.text("x"), dedupe_key="a"
    )
    sender = OutboxSender(engine, {"slack": deliverer(slack_api)})
    assert await sender.send_due() == 0
    failed = row(slack_context, post_id)
    assert failed.status == "failed"
    assert "channel_not_found" in (failed.last_error or "")


def timing_out_deliverer(fake: SlackApi, timeout: float) -> SlackDeliverer:
    from bot.slack import web_client

    client = web_client(BOT_TOKEN, fake.base_url + "api/", retry_rate_limits=False)
    client.timeout = timeout  # type: ignore[assignment]
    return SlackDeliverer(client)


async def test_an_uncertain_send_slack_accepted_late_is_found_not_resent(
    slack_api: SlackApi, slack_context: Context
) -> None:
    engine = slack_context.engine
    faults = ["late"]
    slack_api.fault_for_post = lambda: faults.pop(0) if faults else None
    slack_api.hang_s, slack_api.late_s = 1.0, 0.3
    [post_id] = enqueue(
        engine, kind="job", targets=["slack:C9"], reply=Reply.text("done"), dedupe_key="run:1"
    )
    sender = OutboxSender(
        engine, {"slack": timing_out_deliverer(slack_api, 0.2)},
        base_delay=0.01, settle=timedelta(seconds=0.6),
    )  # fmt: skip
    assert await sender.send_due() == 0  # timed out: Slack accepts it a moment later
    assert row(slack_context, post_id).uncertain_at is not None
    await asyncio.sleep(0.7)
    assert await sender.send_due() == 1
    sent = row(slack_context, post_id)
    [message] = slack_api.posts_of("C9")
    assert (sent.status, sent.message_ref) == ("sent", message.ts)
    assert message.metadata == {
        "event_type": "opsdesk_post",
        "event_payload": {"outbox_id": post_id},
    }
    assert len(slack_api.ok_calls("conversations.history")) == 1


async def test_an_uncertain_send_that_never_arrived_is_sent(
    slack_api: SlackApi, slack_context: Context
) -> None:
    engine = slack_context.engine
    faults = ["hang"]
    slack_api.fault_for_post = lambda: faults.pop(0) if faults else None
    slack_api.hang_s = 0.5
    [post_id] = enqueue(
        engine, kind="job", targets=["slack:C9"], reply=Reply.text("done"), dedupe_key="run:2"
    )
    sender = OutboxSender(
        engine, {"slack": timing_out_deliverer(slack_api, 0.2)},
        base_delay=0.01, settle=timedelta(seconds=0.3),
    )  # fmt: skip
    assert await sender.send_due() == 0
    await asyncio.sleep(0.6)
    assert await sender.send_due() == 1
    assert len(slack_api.posts_of("C9")) == 1
    assert row(slack_context, post_id).status == "sent"


async def test_without_the_history_scope_an_uncertain_post_is_sent_again(
    slack_api: SlackApi, slack_context: Context
) -> None:
    engine = slack_context.engine
    slack_api.fail("conversations.history", "missing_scope")
    [post_id] = enqueue(
        engine, kind="job", targets=["slack:C9"], reply=Reply.text("x"), dedupe_key="run:3"
    )
    with Session(engine) as session:
        post = session.get(OutboxPost, post_id)
        assert post is not None
        post.uncertain_at = utcnow() - timedelta(minutes=5)
        session.add(post)
        session.commit()
    assert await OutboxSender(engine, {"slack": deliverer(slack_api)}).send_due() == 1
    assert len(slack_api.posts_of("C9")) == 1
