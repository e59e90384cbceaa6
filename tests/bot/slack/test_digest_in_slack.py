"""The digest in Slack: `/opsdesk digest` with its chart, and a manual `/run digest`
that answers its asker without swallowing the day's scheduled post."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.slack import web_client
from bot.slack.deliver import SlackDeliverer
from jobs.config.schema import AccessConfig, Config, DigestConfig
from jobs.context import Context
from jobs.outbox.delivery import OutboxSender
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from storage.models import OutboxPost
from tests.bot.slack.conftest import MEMBER_CHANNEL, SlackBot
from tests.standins.slack_api import BOT_TOKEN
from tests.support.context import jobs_context

DIGEST_CHANNEL = "C0DIGEST"


@pytest.fixture
def slack_context(sqlite_engine: Engine) -> Context:
    """Alice is an admin; the daily digest goes to DIGEST_CHANNEL."""
    config = Config(
        access=AccessConfig(chats=[f"slack:{MEMBER_CHANNEL}"], admins=["slack:U0ALICE"]),
        digest=DigestConfig(post_to=[f"slack:{DIGEST_CHANNEL}"]),
    )
    return jobs_context(sqlite_engine, config)


def digest_posts(context: Context) -> list[str]:
    with Session(context.engine) as session:
        rows = session.exec(select(OutboxPost).where(OutboxPost.kind == "digest")).all()
        return [row.target for row in rows]


async def test_digest_in_slack_carries_its_chart(slack: SlackBot) -> None:
    fake = slack.fake
    await slack.post(slack.payloads.command_body("digest", trigger_id="d.1"))
    await slack.settled()
    [answer] = fake.ok_calls("response")
    assert answer.args["response_type"] == "in_channel"
    [complete] = fake.ok_calls("files.completeUploadExternal")
    assert complete.args["channel_id"] == MEMBER_CHANNEL
    [upload] = fake.ok_calls("upload")
    assert upload.body.startswith(b"\x89PNG")


async def test_a_manual_digest_answers_its_asker_and_the_scheduled_one_still_posts(
    slack: SlackBot, slack_context: Context
) -> None:
    fake = slack.fake
    await slack.post(slack.payloads.command_body("run digest", trigger_id="d.2"))
    await slack.settled()
    [answer] = fake.ok_calls("response")
    assert "digest" in json.dumps(answer.args).lower()
    assert answer.args["response_type"] == "in_channel"
    assert fake.ok_calls("files.completeUploadExternal")  # the chart, in the asker's channel
    assert digest_posts(slack_context) == []  # the asker's answer is not the daily post

    spec = find_job(slack_context.config, "digest")
    assert spec is not None
    scheduled = run_job(slack_context, spec, "schedule")
    assert (scheduled.status, scheduled.output) == ("ok", "daily digest enqueued: 1 post")
    assert digest_posts(slack_context) == [f"slack:{DIGEST_CHANNEL}"]
    deliverer = SlackDeliverer(
        web_client(BOT_TOKEN, fake.base_url + "api/", retry_rate_limits=False)
    )
    assert await OutboxSender(slack_context.engine, {"slack": deliverer}).send_due() == 1
    [daily] = fake.ok_calls("chat.postMessage")
    assert daily.args["channel"] == DIGEST_CHANNEL
    assert "Daily digest" in json.dumps(daily.args)
