"""Socket Mode end to end, once: the adapter opens its websocket through the configured
Web API URL and answers envelopes sent over it by the Slack stand-in."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient

from bot.slack import build_app, build_slack_adapter, web_client
from bot.slack.adapter import SlackAdapter
from bot.slack.after_ack import AfterAck
from bot.slack.deliver import SlackDeliverer
from bot.slack.gate import OTHER_APP, OTHER_TEAM
from bot.slack.listeners import WORKING
from handlers.router import Router
from jobs.config.loading import Secrets, Settings
from jobs.config.schema import Config, SlackConfig
from tests.bot.slack.conftest import Payloads, as_envelope_payload
from tests.bot.slack.test_commands import add_counted
from tests.standins.slack_api import BOT_TOKEN, SlackApi


async def socket_open(adapter: SlackAdapter) -> None:
    """Once the stand-in's hello has arrived: the socket is open at both ends."""
    hello = asyncio.Event()

    async def on_message(
        _client: AsyncBaseSocketModeClient, message: dict[str, Any], _raw: str
    ) -> None:
        if message.get("type") == "hello":
            hello.set()

    assert adapter._socket is not None
    adapter._socket.client.message_listeners.append(on_message)
    await asyncio.wait_for(hello.wait(), timeout=10)


async def test_over_socket_mode_commands_are_acked_and_answered(
    slack_api: SlackApi, slack_router: Router
) -> None:
    after_ack = AfterAck()
    base_url = slack_api.base_url + "api/"
    app = build_app(
        slack_router, web_client(BOT_TOKEN, base_url, retry_rate_limits=True), after_ack=after_ack
    )
    deliverer = SlackDeliverer(web_client(BOT_TOKEN, base_url, retry_rate_limits=False))
    adapter = SlackAdapter(app, deliverer, mode="socket", app_token="xapp-test")
    runs: list[str] = []
    add_counted(slack_router, runs)
    payloads = Payloads(slack_api)
    await adapter.start()
    try:
        await socket_open(adapter)
        assert adapter.connected()
        assert slack_api.ok_calls("apps.connections.open")

        def command(text: str, trigger: str) -> dict[str, Any]:
            return as_envelope_payload(payloads.command_body(text, trigger_id=trigger))

        helped = await slack_api.send_envelope("e-1", "slash_commands", command("help", "t-1"))
        assert helped["payload"]["blocks"][0]["type"] == "header"
        slow = command("counted", "t-2")
        working = await slack_api.send_envelope("e-2", "slash_commands", slow)
        assert working == {
            "envelope_id": "e-2",
            "payload": {"text": WORKING, "response_type": "ephemeral"},
        }
        again = await slack_api.send_envelope("e-3", "slash_commands", slow, retry_attempt=1)
        assert again == {"envelope_id": "e-3"}
        await after_ack.settled()
    finally:
        await adapter.stop()
    assert runs == ["U0ALICE"]
    (answer,) = slack_api.ok_calls("response")
    assert "done for U0ALICE" in json.dumps(answer.args["blocks"])


async def test_over_socket_mode_envelopes_from_another_workspace_or_app_are_refused(
    slack_api: SlackApi, slack_router: Router, tmp_path: Path
) -> None:
    """The adapter as `opsdesk run` builds it: the workspace and app learnt from
    auth.test; an envelope naming another is acknowledged (no redelivery), counted and
    never handled."""
    settings = Settings(
        config=Config(slack=SlackConfig(enabled=True)),
        source="test",
        secrets=Secrets.from_env({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-test"}),
        database_url="sqlite://",
        data_dir=tmp_path,
    )
    adapter = build_slack_adapter(
        settings, slack_router, environ={"SLACK_API_URL": slack_api.base_url + "api/"}
    )
    assert adapter is not None and adapter.gate is not None
    runs: list[str] = []
    add_counted(slack_router, runs)
    payloads = Payloads(slack_api)
    await adapter.start()
    try:
        await socket_open(adapter)
        assert (adapter.gate.team_id, adapter.gate.app_id) == ("T0001", "A0001")
        command = as_envelope_payload(payloads.command_body("counted", trigger_id="t-1"))
        mention = json.loads(payloads.event_body("app_mention", "<@UBOT> counted"))
        foreign = {
            "other team": ("slash_commands", {**command, "team_id": "T9999"}),
            "other app": ("slash_commands", {**command, "api_app_id": "A9999"}),
            "other team's event": ("events_api", {**mention, "team_id": "T9999"}),
            "other team's press": ("interactive", {"type": "block_actions", "team": {"id": "T9"},
                                                   "api_app_id": "A0001", "actions": []}),
        }  # fmt: skip
        for number, (kind, payload) in enumerate(foreign.values()):
            ack = await slack_api.send_envelope(f"e-{number}", kind, payload)
            assert ack == {"envelope_id": f"e-{number}"}, kind
        ours = await slack_api.send_envelope("e-ours", "slash_commands", command)
        assert ours["payload"]["text"] == WORKING
        await slack_api.wait_for("response")
    finally:
        await adapter.stop()
    assert runs == ["U0ALICE"]  # ours only
    assert adapter.gate.refused == {OTHER_TEAM: 3, OTHER_APP: 1}
    assert len(slack_api.ok_calls("response")) == 1
