"""The real bolt app, dispatched in process: requests signed and form-encoded exactly
as Slack sends them go through `AsyncApp.async_dispatch` (Socket Mode envelopes
through bolt's own Socket Mode translation), and everything the app sends after its
ack goes to the Web API stand-in on 127.0.0.1. The real HTTP server and the real
websocket are exercised once each, in test_http_mode.py and test_socket_mode.py."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.socket_mode.request import SocketModeRequest
from sqlalchemy.engine import Engine

from bot.slack import build_app, web_client
from bot.slack.after_ack import AfterAck
from handlers.catalog import ACTIONS, COMMANDS
from handlers.router import Router
from jobs.config.schema import AccessConfig, Config, RepoConfig
from jobs.context import Context
from tests.standins.slack_api import BOT_TOKEN, SIGNING_SECRET, SlackApi, sign
from tests.support.context import jobs_context
from tests.support.rows import add_finding

MEMBER_CHANNEL = "C0MEMBERS"
Blocks = list[dict[str, Any]]


@pytest.fixture
def slack_context(sqlite_engine: Engine, tmp_path: Path) -> Context:
    """Everyone in MEMBER_CHANNEL is a viewer; nobody else is let in. Repository
    "demo" is configured, so chat users may see (and give feedback on) its findings."""
    config = Config(
        access=AccessConfig(chats=[f"slack:{MEMBER_CHANNEL}"]),
        repos=[RepoConfig(name="demo", path=str(tmp_path))],
    )
    return jobs_context(sqlite_engine, config)


@pytest.fixture
def slack_router(slack_context: Context) -> Router:
    return Router(slack_context, COMMANDS, ACTIONS)


@dataclass
class Payloads:
    """Slack's request bodies, as Slack sends them (response URLs on the stand-in)."""

    fake: SlackApi

    def command_body(
        self,
        text: str,
        *,
        command: str = "/opsdesk",
        user: str = "U0ALICE",
        channel: str = MEMBER_CHANNEL,
        trigger_id: str = "1111.2222.aaaa",
    ) -> str:
        return urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": "T0001",
                "team_domain": "example",
                "channel_id": channel,
                "channel_name": "ops",
                "user_id": user,
                "user_name": "alice",
                "command": command,
                "text": text,
                "api_app_id": "A0001",
                "is_enterprise_install": "false",
                "response_url": self.fake.response_url(trigger_id),
                "trigger_id": trigger_id,
            }
        )

    def event_body(
        self,
        event_type: str,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = MEMBER_CHANNEL,
        event_id: str = "Ev0001",
        channel_type: str = "channel",
    ) -> str:
        """An Events API delivery: an app_mention, or a message (channel_type "im": a DM)."""
        return json.dumps(
            {
                "token": "legacy-verification-token",
                "team_id": "T0001",
                "api_app_id": "A0001",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}],
                "event": {
                    "type": event_type,
                    "user": user,
                    "text": text,
                    "channel": channel,
                    "channel_type": channel_type,
                    "ts": "1700000200.000100",
                    "event_ts": "1700000200.000100",
                },
            }
        )

    def action_body(
        self,
        message_blocks: Blocks,
        action_id: str,
        *,
        user: str = "U0ALICE",
        channel: str = MEMBER_CHANNEL,
        message_ts: str = "1700000000.000100",
        action_ts: str = "1700000100.000200",
    ) -> str:
        button = next(
            element
            for block in message_blocks
            if block["type"] == "actions"
            for element in block["elements"]
            if element["action_id"] == action_id
        )
        block_id = next(
            block.get("block_id", "")
            for block in message_blocks
            if block["type"] == "actions" and button in block["elements"]
        )
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": "alice", "name": "alice", "team_id": "T0001"},
            "api_app_id": "A0001",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"trigger-{action_ts}",
            "team": {"id": "T0001", "domain": "example"},
            "channel": {"id": channel, "name": "ops"},
            "message": {
                "type": "message",
                "user": "UBOT",
                "ts": message_ts,
                "text": "Review of demo",
                "blocks": message_blocks,
            },
            "response_url": self.fake.response_url(f"action-{action_ts}"),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": button["text"],
                    "value": button["value"],
                    "action_ts": action_ts,
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload)})


def as_envelope_payload(body: str) -> dict[str, Any]:
    """What Socket Mode carries for the same request: a command's fields, or the
    interactive payload itself."""
    form = parse_qs(body)
    if "payload" in form:
        return dict(json.loads(form["payload"][0]))
    return {key: values[0] for key, values in form.items()}


@dataclass
class SlackBot:
    """The app with a way to hand it what Slack would, and to know when it is done."""

    app: AsyncApp
    after_ack: AfterAck
    fake: SlackApi
    payloads: Payloads

    async def post(
        self, body: str, *, retry_num: int | None = None, secret: str = SIGNING_SECRET
    ) -> tuple[int, str]:
        """An HTTP-mode request, signed with `secret`: bolt's (status, body)."""
        headers = sign(body, secret)
        if body.startswith("{"):
            headers["Content-Type"] = "application/json"  # Events API deliveries
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        response = await self.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        return response.status, response.body

    async def envelope(self, kind: str, body: str, *, retry_attempt: int = 0) -> dict[str, Any]:
        """A Socket Mode envelope (`slash_commands`, `interactive`) through bolt's own
        Socket Mode translation: the ack's payload ({} when it carries none)."""
        request = SocketModeRequest(
            type=kind,
            envelope_id=f"env-{time.monotonic_ns()}",
            payload=as_envelope_payload(body),
            accepts_response_payload=True,
            retry_attempt=retry_attempt,
            retry_reason="timeout" if retry_attempt else None,
        )
        response = await run_async_bolt_app(self.app, request)
        assert response.status == 200, response.body
        return json.loads(response.body) if response.body else {}

    async def settled(self) -> None:
        """Every answer the app started after its acks has been given."""
        await self.after_ack.settled()


@pytest.fixture
async def slack(slack_api: SlackApi, slack_router: Router) -> AsyncIterator[SlackBot]:
    after_ack = AfterAck()
    app = build_app(
        slack_router,
        web_client(BOT_TOKEN, slack_api.base_url + "api/", retry_rate_limits=True),
        signing_secret=SIGNING_SECRET,
        after_ack=after_ack,
    )
    bot = SlackBot(app, after_ack, slack_api, Payloads(slack_api))
    yield bot
    await bot.settled()


@pytest.fixture
def finding_id(slack_context: Context) -> Iterator[int]:
    yield add_finding(slack_context.engine, category="unused-import", message="unused import os").id
