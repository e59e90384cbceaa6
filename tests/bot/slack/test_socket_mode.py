"""Socket Mode: the adapter opens its websocket through the configured Web API URL
and answers commands over it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from bot.slack import build_app, web_client
from bot.slack.adapter import SlackAdapter
from bot.slack.deliver import SlackDeliverer
from handlers.router import Router
from tests.bot.slack.conftest import MEMBER_CHANNEL
from tests.standins.slack_api import BOT_TOKEN, SlackApi
from tests.support.commands import slow_command


@pytest.fixture
async def socket_adapter(slack_api: SlackApi, slack_router: Router) -> AsyncIterator[SlackAdapter]:
    base_url = slack_api.base_url + "api/"
    app = build_app(slack_router, web_client(BOT_TOKEN, base_url, retry_rate_limits=True))
    deliverer = SlackDeliverer(web_client(BOT_TOKEN, base_url, retry_rate_limits=False))
    adapter = SlackAdapter(app, deliverer, mode="socket", app_token="xapp-test")
    await adapter.start()
    for _ in range(200):
        if slack_api.sockets and adapter.connected():
            break
        await asyncio.sleep(0.01)
    yield adapter
    await adapter.stop()


def command(text: str, trigger_id: str, fake: SlackApi) -> dict[str, str]:
    return {
        "team_id": "T0001",
        "channel_id": MEMBER_CHANNEL,
        "user_id": "U0ALICE",
        "user_name": "alice",
        "command": "/opsdesk",
        "text": text,
        "api_app_id": "A0001",
        "response_url": fake.response_url(trigger_id),
        "trigger_id": trigger_id,
    }


async def test_a_command_over_socket_mode_is_answered_in_its_ack(
    socket_adapter: SlackAdapter, slack_api: SlackApi
) -> None:
    assert socket_adapter.connected()
    assert slack_api.ok_calls("apps.connections.open")
    ack = await slack_api.send_envelope(
        "env-1", "slash_commands", command("help", "t-1", slack_api)
    )
    assert ack["payload"]["response_type"] == "in_channel"
    assert ack["payload"]["blocks"][0]["type"] == "header"


async def test_a_quick_command_over_socket_mode_is_acked_then_answered(
    socket_adapter: SlackAdapter, slack_api: SlackApi
) -> None:
    ack = await slack_api.send_envelope(
        "env-1", "slash_commands", command("health", "t-3", slack_api)
    )
    assert ack == {"envelope_id": "env-1"}
    (answer,) = await slack_api.wait_for("response")
    assert "Health" in json.dumps(answer.args["blocks"])


async def test_a_socket_mode_retry_is_acked_and_ignored(
    socket_adapter: SlackAdapter, slack_api: SlackApi
) -> None:
    await slack_api.send_envelope("env-1", "slash_commands", command("health", "t-2", slack_api))
    again = await slack_api.send_envelope(
        "env-2", "slash_commands", command("health", "t-2", slack_api), retry_attempt=1
    )
    assert again == {"envelope_id": "env-2"}
    await slack_api.wait_for("response")
    await asyncio.sleep(0.3)
    assert len(slack_api.ok_calls("response")) == 1


async def test_socket_mode_acks_quick_commands_while_seven_slow_ones_run(
    socket_adapter: SlackAdapter, slack_api: SlackApi, slack_router: Router
) -> None:
    with slow_command(slack_router):
        for i in range(7):
            await slack_api.send_envelope(
                f"s-{i}", "slash_commands", command("slow", f"s{i}", slack_api)
            )
        begun = time.monotonic()
        acks = [
            await slack_api.send_envelope(
                f"q-{i}", "slash_commands", command(text, f"q{i}", slack_api)
            )
            for i, text in enumerate(["health", "help", "jobs"])
        ]
        assert time.monotonic() - begun < 1.0
        assert acks[0] == {"envelope_id": "q-0"}
        assert acks[1]["payload"]["blocks"][0]["type"] == "header"  # help, in the ack
        answers = await slack_api.wait_for("response", count=2)
        assert all("slow done" not in json.dumps(a.args) for a in answers)
    await slack_api.wait_for("response", count=2 + 7, timeout=10)
