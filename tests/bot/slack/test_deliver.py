"""Auto-posts: outbox rows for `slack:<channel>` delivered to the fake Web API."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.slack.deliver import SlackDeliverer
from jobs.context import Context
from jobs.core.reply import Block, Image, Reply, ReplyField
from jobs.outbox.delivery import OutboxSender, enqueue
from storage.models import OutboxPost, utcnow
from tests.standins.slack_api import BOT_TOKEN, SlackApi

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def slack_sender(
    fake: SlackApi, context: Context, timeout: float | None = None, **options: Any
) -> OutboxSender:
    """The outbox sender with Slack's deliverer (no retries of its own; a client that
    gives up after `timeout` seconds when given) and `options`."""
    from bot.slack import web_client

    client = web_client(BOT_TOKEN, fake.base_url + "api/", retry_rate_limits=False)
    if timeout is not None:
        client.timeout = timeout  # type: ignore[assignment]
    return OutboxSender(context.engine, {"slack": SlackDeliverer(client)}, **options)


def digest() -> Reply:
    return Reply(
        title="Daily digest",
        blocks=[Block(text="12 runs, 9 cache hits; <!channel> from a commit message")],
        fields=[ReplyField(label="Tokens saved", value="48,200")],
        image=Image(png=PNG, title="Runs per day", filename="runs.png"),
    )


def one_post(
    context: Context, reply: Reply, key: str, *, target: str = "slack:C9", kind: str = "job"
) -> int:
    """One outbox row for the target; its id."""
    [post_id] = enqueue(context.engine, kind=kind, targets=[target], reply=reply, dedupe_key=key)
    return post_id


def row(context: Context, post_id: int) -> OutboxPost:
    with Session(context.engine) as session:
        post = session.get(OutboxPost, post_id)
        assert post is not None
        return post


async def test_a_digest_is_posted_with_its_chart(
    slack_api: SlackApi, slack_context: Context
) -> None:
    post_id = one_post(slack_context, digest(), "digest:day1", target="slack:C123", kind="digest")
    sender = slack_sender(slack_api, slack_context)
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
    alert = Reply.text("nightly job is down")
    post_id = one_post(slack_context, alert, "alert:1", target="slack:C123", kind="alert")
    slack_api.rate_limit("chat.postMessage", retry_after=7)
    clock = Clock()  # after enqueue: the row is due from its creation time
    sender = slack_sender(slack_api, slack_context, clock=clock)

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
    one_post(slack_context, digest(), "d2", target="slack:C123", kind="digest")
    clock = Clock()
    slack_api.rate_limit("files.completeUploadExternal", retry_after=3)
    sender = slack_sender(slack_api, slack_context, clock=clock)
    assert await sender.send_due() == 0
    clock.now += timedelta(seconds=4)
    assert await sender.send_due() == 1
    assert len(slack_api.ok_calls("chat.postMessage")) == 1
    assert len(slack_api.ok_calls("files.completeUploadExternal")) == 1


async def test_an_unknown_channel_fails_for_good(
    slack_api: SlackApi, slack_context: Context
) -> None:
    slack_api.fail("chat.postMessage", "channel_not_found")
    post_id = one_post(slack_context, Reply.text("x"), "a", target="slack:CGONE", kind="alert")
    sender = slack_sender(slack_api, slack_context)
    assert await sender.send_due() == 0
    failed = row(slack_context, post_id)
    assert failed.status == "failed"
    assert "channel_not_found" in (failed.last_error or "")


SETTLE = timedelta(minutes=2)


def uncertain_sender(fake: SlackApi, context: Context, fault: str, clock: Clock) -> OutboxSender:
    """A sender on `clock` whose client gives up after 0.2 s, against a Slack whose
    first post meets `fault` ("late": accepted after the client gave up; "hang": never)."""
    faults = [fault]
    fake.fault_for_post = lambda: faults.pop(0) if faults else None
    return slack_sender(fake, context, timeout=0.2, base_delay=0.01, settle=SETTLE, clock=clock)


async def test_an_uncertain_send_slack_accepted_late_is_found_not_resent(
    slack_api: SlackApi, slack_context: Context
) -> None:
    slack_api.hang_s, slack_api.late_s = 1.0, 0.3
    post_id = one_post(slack_context, Reply.text("done"), "run:1")
    clock = Clock()
    sender = uncertain_sender(slack_api, slack_context, "late", clock)
    assert await sender.send_due() == 0  # timed out: Slack accepts it a moment later
    assert row(slack_context, post_id).uncertain_at is not None
    await asyncio.gather(*slack_api._tasks)  # the stand-in has accepted it now
    assert slack_api.posts_of("C9")
    assert await sender.send_due() == 0, "not retried before it settles"
    clock.now += SETTLE
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
    slack_api.hang_s = 0.5
    post_id = one_post(slack_context, Reply.text("done"), "run:2")
    clock = Clock()
    sender = uncertain_sender(slack_api, slack_context, "hang", clock)
    assert await sender.send_due() == 0
    clock.now += SETTLE
    assert await sender.send_due() == 1
    assert len(slack_api.posts_of("C9")) == 1
    assert row(slack_context, post_id).status == "sent"


async def test_without_the_history_scope_an_uncertain_post_is_sent_again(
    slack_api: SlackApi, slack_context: Context
) -> None:
    engine = slack_context.engine
    slack_api.fail("conversations.history", "missing_scope")
    post_id = one_post(slack_context, Reply.text("x"), "run:3")
    with Session(engine) as session:
        post = session.get(OutboxPost, post_id)
        assert post is not None
        post.uncertain_at = utcnow() - timedelta(minutes=5)
        session.add(post)
        session.commit()
    assert await slack_sender(slack_api, slack_context).send_due() == 1
    assert len(slack_api.posts_of("C9")) == 1


async def test_a_follow_up_answers_in_the_thread_of_the_post_it_names(
    slack_api: SlackApi, slack_context: Context
) -> None:
    """A follow-up written before its parent is sent waits for it, then goes out as a
    reply in the parent's thread (Slack's thread_ts is the parent's ts)."""
    engine = slack_context.engine
    first = Reply.text("api has used 80% of its budget", "Model budget of api: 80% used")
    [parent_id] = enqueue(engine, kind="alert", targets=["slack:C5"], reply=first, dedupe_key="b:1")
    later = Reply.text("api has spent its budget", "Model budget of api: spent")
    [child_id] = enqueue(
        engine, kind="alert", targets=["slack:C5"], reply=later, dedupe_key="b:2", thread_of="b:1"
    )
    assert row(slack_context, child_id).thread_key == "b:1|slack:C5"
    clock = Clock()
    slack_api.fail("chat.postMessage", "internal_error")  # the parent's first try fails
    sender = slack_sender(slack_api, slack_context, clock=clock)
    assert await sender.send_due() == 0
    assert row(slack_context, child_id).attempts == 0  # waited, not tried
    slack_api.heal("chat.postMessage")
    clock.now += timedelta(minutes=5)

    assert await sender.send_due() == 2

    parent, child = slack_api.ok_calls("chat.postMessage")
    assert "thread_ts" not in parent.args
    assert child.args["thread_ts"] == row(slack_context, parent_id).message_ref
