"""`/opsdesk run` asked in the channel the job posts to is one message there (the
answer, in the channel, a failure included); asked elsewhere, the asker is answered
and the channel gets the job's post. Through bolt, the outbox and the Slack stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.runtime import outbox_sender
from bot.slack import web_client
from bot.slack.deliver import SlackDeliverer
from jobs.config.schema import Config
from jobs.context import Context
from tests.bot.slack.conftest import MEMBER_CHANNEL, SlackBot
from tests.standins.slack_api import BOT_TOKEN
from tests.support.context import jobs_context

ELSEWHERE = "D0ALICE"


@pytest.fixture
def slack_context(sqlite_engine: Engine, tmp_path: Path) -> Context:
    """Alice is an admin; job `flaky` fails and `hello` works, each posting to the
    members' channel, where batch `nightly` (both) posts too."""
    target = f"slack:{MEMBER_CHANNEL}"
    config = Config.model_validate(
        {
            "access": {"admins": ["slack:U0ALICE"], "chats": [target]},
            "jobs": [
                {"name": "flaky", "command": "echo broken >&2; exit 3", "post_to": [target]},
                {"name": "hello", "command": "echo hello", "batch": "nightly"},
            ],
            "batches": [{"name": "nightly", "schedule": "0 2 * * *", "post_to": [target]}],
        }
    )
    return jobs_context(sqlite_engine, config)


async def channel_messages(slack: SlackBot, context: Context, channel: str) -> list[str]:
    """Everything the channel shows once the outbox has sent what it holds: the
    commands' answers seen by all, then the posts."""
    client = web_client(BOT_TOKEN, slack.fake.base_url + "api/", retry_rate_limits=False)
    await outbox_sender(context, {"slack": SlackDeliverer(client)}).send_due()
    answers = [
        json.dumps(call.args["blocks"])
        for call in slack.fake.ok_calls("response")
        if call.args["response_type"] == "in_channel"
    ]
    posts = [
        json.dumps(call.args["blocks"])
        for call in slack.fake.ok_calls("chat.postMessage")
        if call.args["channel"] == channel
    ]
    return answers + posts


@pytest.mark.parametrize(("name", "shown"), [("flaky", "flaky: failed"), ("nightly", "nightly")])
async def test_a_run_asked_where_the_job_posts_is_one_message_there(
    slack: SlackBot, slack_context: Context, name: str, shown: str
) -> None:
    await slack.post(slack.payloads.command_body(f"run {name}", trigger_id=f"run.{name}"))
    await slack.settled()
    [message] = await channel_messages(slack, slack_context, MEMBER_CHANNEL)
    assert shown in message
    [answer] = slack.fake.ok_calls("response")
    assert answer.args["response_type"] == "in_channel", "the answer is that one message"
    if name == "flaky":
        assert "broken" in message, "the failure is the channel's to see, with its cause"


async def test_a_run_asked_elsewhere_answers_the_asker_and_posts_in_the_channel(
    slack: SlackBot, slack_context: Context
) -> None:
    body = slack.payloads.command_body("run flaky", channel=ELSEWHERE, trigger_id="run.dm")
    await slack.post(body)
    await slack.settled()
    [answer] = slack.fake.ok_calls("response")
    assert "flaky: failed" in json.dumps(answer.args["blocks"])
    messages = await channel_messages(slack, slack_context, MEMBER_CHANNEL)
    assert len(messages) == 2  # the answer in the DM, the post in the channel
    [post] = slack.fake.ok_calls("chat.postMessage")
    assert post.args["channel"] == MEMBER_CHANNEL
    assert "flaky: failed" in json.dumps(post.args["blocks"])
