"""A mention of the bot or a direct message to it is a command, answered in place."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine

from jobs.config.schema import AccessConfig, Config
from jobs.context import Context
from tests.bot.slack.conftest import MEMBER_CHANNEL, SlackBot
from tests.support.context import jobs_context

DM_CHANNEL = "D0ALICE"


@pytest.fixture
def slack_context(sqlite_engine: Engine) -> Context:
    """Everyone in MEMBER_CHANNEL is a viewer, and so is Alice wherever she is."""
    access = AccessConfig(chats=[f"slack:{MEMBER_CHANNEL}"], viewers=["slack:U0ALICE"])
    return jobs_context(sqlite_engine, Config(access=access))


async def test_a_mention_is_answered_in_a_thread_under_it(slack: SlackBot) -> None:
    body = slack.payloads.event_body("app_mention", "<@UBOT> health", event_id="Ev1")
    status, _ = await slack.post(body)
    assert status == 200
    await slack.settled()
    [post] = slack.fake.ok_calls("chat.postMessage")
    assert post.args["channel"] == "C0MEMBERS"
    assert post.args["thread_ts"] == "1700000200.000100"
    assert "All up" in json.dumps(post.args["blocks"])  # /health's one line


async def test_a_direct_message_is_answered_as_a_command(slack: SlackBot) -> None:
    body = slack.payloads.event_body(
        "message", "help", channel=DM_CHANNEL, channel_type="im", event_id="Ev2"
    )
    await slack.post(body)
    await slack.settled()
    [post] = slack.fake.ok_calls("chat.postMessage")
    assert post.args["channel"] == DM_CHANNEL
    assert "thread_ts" not in post.args
    assert "/opsdesk health" in json.dumps(post.args["blocks"])


@pytest.mark.parametrize("text", ["<@UBOT> jobs", "<@UBOT> help"])
async def test_a_redelivered_mention_is_answered_once(slack: SlackBot, text: str) -> None:
    """Whether the answer needs work (jobs) or none (help)."""
    body = slack.payloads.event_body("app_mention", text, event_id="Ev3")
    await slack.post(body)
    await slack.settled()
    status, _ = await slack.post(body, retry_num=1)
    assert status == 200
    await slack.settled()
    assert len(slack.fake.ok_calls("chat.postMessage")) == 1


async def test_messages_in_channels_and_from_bots_are_not_commands(slack: SlackBot) -> None:
    await slack.post(slack.payloads.event_body("message", "health", event_id="Ev4"))
    await slack.settled()
    assert slack.fake.ok_calls("chat.postMessage") == []


async def test_a_stranger_mentioning_the_bot_is_refused_privately(slack: SlackBot) -> None:
    body = slack.payloads.event_body(
        "app_mention", "<@UBOT> jobs", user="U0EVE", channel="C0ELSEWHERE", event_id="Ev5"
    )
    await slack.post(body)
    await slack.settled()
    [refusal] = slack.fake.ok_calls("chat.postEphemeral")
    assert refusal.args["user"] == "U0EVE"
    assert "not on this opsdesk's access list" in json.dumps(refusal.args["blocks"])
    assert slack.fake.ok_calls("chat.postMessage") == []


async def test_a_stranger_mentioning_the_bot_again_within_the_hour_is_not_refused_twice(
    slack: SlackBot,
) -> None:
    for n in range(3):
        body = slack.payloads.event_body(
            "app_mention", "<@UBOT> jobs", user="U0EVE", channel="C0ELSEWHERE", event_id=f"Ev{n}"
        )
        await slack.post(body)
    await slack.settled()
    assert len(slack.fake.ok_calls("chat.postEphemeral")) == 1
    assert slack.fake.ok_calls("chat.postMessage") == []
