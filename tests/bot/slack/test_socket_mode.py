"""Socket Mode: the adapter opens its websocket through the configured Web API URL
and answers commands over it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator

import pytest

from bot.slack import build_app, web_client
from bot.slack.adapter import SlackAdapter
from bot.slack.deliver import SlackDeliverer
from handlers.router import Command, Request, Router
from jobs.reply import Reply
from tests.slack.conftest import BOT_TOKEN, MEMBER_CHANNEL
from tests.slack.fake_slack import FakeSlack


@pytest.fixture
async def socket_adapter(
    fake_slack: FakeSlack, slack_router: Router
) -> AsyncIterator[SlackAdapter]:
    base_url = fake_slack.base_url + "api/"
    app = build_app(slack_router, web_client(BOT_TOKEN, base_url, retry_rate_limits=True))
    deliverer = SlackDeliverer(web_client(BOT_TOKEN, base_url, retry_rate_limits=False))
    adapter = SlackAdapter(app, deliverer, mode="socket", app_token="xapp-test")
    await adapter.start()
    for _ in range(200):
        if fake_slack.sockets and adapter.connected():
            break
        await asyncio.sleep(0.01)
    yield adapter
    await adapter.stop()


def command(text: str, trigger_id: str, fake: FakeSlack) -> dict[str, str]:
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
    socket_adapter: SlackAdapter, fake_slack: FakeSlack
) -> None:
    assert socket_adapter.connected()
    assert fake_slack.ok_calls("apps.connections.open")
    ack = await fake_slack.send_envelope(
        "env-1", "slash_commands", command("help", "t-1", fake_slack)
    )
    assert ack["payload"]["response_type"] == "in_channel"
    assert ack["payload"]["blocks"][0]["type"] == "header"


async def test_a_quick_command_over_socket_mode_is_acked_then_answered(
    socket_adapter: SlackAdapter, fake_slack: FakeSlack
) -> None:
    ack = await fake_slack.send_envelope(
        "env-1", "slash_commands", command("health", "t-3", fake_slack)
    )
    assert ack == {"envelope_id": "env-1"}
    (answer,) = await fake_slack.wait_for("response")
    assert "Health" in json.dumps(answer.args["blocks"])


async def test_a_socket_mode_retry_is_acked_and_ignored(
    socket_adapter: SlackAdapter, fake_slack: FakeSlack
) -> None:
    await fake_slack.send_envelope("env-1", "slash_commands", command("health", "t-2", fake_slack))
    again = await fake_slack.send_envelope(
        "env-2", "slash_commands", command("health", "t-2", fake_slack), retry_attempt=1
    )
    assert again == {"envelope_id": "env-2"}
    await fake_slack.wait_for("response")
    await asyncio.sleep(0.3)
    assert len(fake_slack.ok_calls("response")) == 1


async def test_socket_mode_acks_quick_commands_while_seven_slow_ones_run(
    socket_adapter: SlackAdapter, fake_slack: FakeSlack, slack_router: Router
) -> None:
    release = threading.Event()

    def slow(_request: Request) -> Reply:
        release.wait(10)
        return Reply.text("slow done")

    slack_router.commands["slow"] = Command("slow", "/slow", "", slow, slow=True)
    try:
        for i in range(7):
            await fake_slack.send_envelope(
                f"s-{i}", "slash_commands", command("slow", f"s{i}", fake_slack)
            )
        begun = time.monotonic()
        acks = [
            await fake_slack.send_envelope(
                f"q-{i}", "slash_commands", command(text, f"q{i}", fake_slack)
            )
            for i, text in enumerate(["health", "help", "jobs"])
        ]
        assert time.monotonic() - begun < 1.0
        assert acks[0] == {"envelope_id": "q-0"}
        assert acks[1]["payload"]["blocks"][0]["type"] == "header"  # help, in the ack
        answers = await fake_slack.wait_for("response", count=2)
        assert all("slow done" not in json.dumps(a.args) for a in answers)
    finally:
        release.set()
    await fake_slack.wait_for("response", count=2 + 7, timeout=10)
