"""Feedback end to end on Slack, over signed HTTP and over Socket Mode, against the
local Web API stand-in: a real git repository reviewed by ruff, a false positive
that stays gone in cached and full reviews, an undo that brings it back, and a press
from a channel that never saw the finding refused with nothing recorded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

import aiohttp
import pytest
from sqlalchemy.engine import Engine

from bot.slack import build_app, web_client
from bot.slack.adapter import SlackAdapter
from bot.slack.deliver import SlackDeliverer
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from tests.bot.slack.conftest import MEMBER_CHANNEL, SlackServer
from tests.standins.slack_api import BOT_TOKEN, SIGNING_SECRET, SlackApi
from tests.support.context import jobs_context
from tests.support.feedback import feedback_rows
from tests.support.git_repo import Repo

OTHER_CHANNEL = "C0OTHERS"
Blocks = list[dict[str, Any]]


@pytest.fixture
def work(git_repo: Repo) -> Repo:
    """The repository with one commit: two unused imports."""
    git_repo.commit("two unused imports", **{"app.py": "import os\nimport sys\n"})
    return git_repo


@pytest.fixture
def router(sqlite_engine: Engine, work: Repo, tmp_path: Path) -> Router:
    config = Config.model_validate(
        {
            "repos": [{"name": "demo", "path": str(work.path)}],
            "reviewer": {"lint": {"select": ["F"]}},
            "access": {"chats": [f"slack:{MEMBER_CHANNEL}", f"slack:{OTHER_CHANNEL}"]},
        }
    )
    return build_router(jobs_context(sqlite_engine, config, tmp_path / "data"))


class Transport(Protocol):
    fake: SlackApi

    async def command(self, text: str, trigger: str, channel: str = MEMBER_CHANNEL) -> Blocks: ...

    async def press(
        self, blocks: Blocks, action_id: str, action_ts: str, channel: str = MEMBER_CHANNEL
    ) -> None: ...


async def _answer(fake: SlackApi, ack: dict[str, Any], responses_before: int) -> Blocks:
    """A command's blocks: in its ack, or (slow commands) through the response URL."""
    if ack.get("blocks"):
        return list(ack["blocks"])
    [*_, response] = await fake.wait_for("response", responses_before + 1, timeout=30)
    return list(response.args["blocks"])


@dataclass
class OverHttp:
    server: SlackServer

    @property
    def fake(self) -> SlackApi:
        return self.server.fake

    async def command(self, text: str, trigger: str, channel: str = MEMBER_CHANNEL) -> Blocks:
        before = len(self.fake.ok_calls("response"))
        body = self.server.command_body(text, trigger_id=trigger, channel=channel)
        status, answer = await self.server.post(body)
        assert status == 200
        return await _answer(self.fake, json.loads(answer) if answer else {}, before)

    async def press(
        self, blocks: Blocks, action_id: str, action_ts: str, channel: str = MEMBER_CHANNEL
    ) -> None:
        body = self.server.action_body(blocks, action_id, channel=channel, action_ts=action_ts)
        status, _ = await self.server.post(body)
        assert status == 200


@dataclass
class OverSocket:
    fake: SlackApi
    http_helper: SlackServer  # builds payloads the same way as over HTTP

    async def command(self, text: str, trigger: str, channel: str = MEMBER_CHANNEL) -> Blocks:
        before = len(self.fake.ok_calls("response"))
        form = parse_qs(self.http_helper.command_body(text, trigger_id=trigger, channel=channel))
        payload = {key: values[0] for key, values in form.items()}
        ack = await self.fake.send_envelope(f"env-{trigger}", "slash_commands", payload)
        return await _answer(self.fake, ack.get("payload") or {}, before)

    async def press(
        self, blocks: Blocks, action_id: str, action_ts: str, channel: str = MEMBER_CHANNEL
    ) -> None:
        body = self.http_helper.action_body(blocks, action_id, channel=channel, action_ts=action_ts)
        payload = json.loads(parse_qs(body)["payload"][0])
        await self.fake.send_envelope(f"env-{action_ts}", "interactive", payload)


@pytest.fixture(params=["http", "socket"])
async def transport(
    request: pytest.FixtureRequest, slack_api: SlackApi, router: Router
) -> AsyncIterator[Transport]:
    base_url = slack_api.base_url + "api/"
    client = web_client(BOT_TOKEN, base_url, retry_rate_limits=True)
    deliverer = SlackDeliverer(web_client(BOT_TOKEN, base_url, retry_rate_limits=False))
    if request.param == "http":
        app = build_app(router, client, signing_secret=SIGNING_SECRET)
        adapter = SlackAdapter(app, deliverer, mode="http", http_host="127.0.0.1", http_port=0)
    else:
        app = build_app(router, client)
        adapter = SlackAdapter(app, deliverer, mode="socket", app_token="xapp-test")
    await adapter.start()
    try:
        async with aiohttp.ClientSession() as http:
            server = SlackServer(adapter, slack_api, http)
            if request.param == "http":
                yield OverHttp(server)
            else:
                for _ in range(200):
                    if slack_api.sockets and adapter.connected():
                        break
                    await asyncio.sleep(0.01)
                yield OverSocket(slack_api, server)
    finally:
        await adapter.stop()


def text_of(blocks: Blocks) -> str:
    """The text as a reader sees it: without the zero-width spaces that keep
    formatting characters from repositories (`os`) from pairing up in mrkdwn."""
    return json.dumps(blocks, ensure_ascii=False).replace("\u200b", "")


def action_id(blocks: Blocks, label: str, finding: int = 0) -> str:
    """The action_id of the button `label` under the `finding`-th finding."""
    rows = [b for b in blocks if b["type"] == "actions" and b["block_id"].startswith("finding:")]
    return next(e["action_id"] for e in rows[finding]["elements"] if e["text"]["text"] == label)


async def updated_blocks(fake: SlackApi, count: int) -> Blocks:
    updates = await fake.wait_for("chat.update", count, timeout=30)
    return list(updates[-1].args["blocks"])


async def test_false_positive_stays_gone_until_undone(
    transport: Transport, sqlite_engine: Engine
) -> None:
    fake = transport.fake
    review = await transport.command("review demo", "t-1")
    assert review[0]["type"] == "header" and "fields" in review[1]  # the summary first
    assert "suppressed 0" in text_of(review) and "`os` imported" in text_of(review)
    false_positive = action_id(review, "False positive")
    finding_id = int(false_positive.split(":")[1])

    # A channel that was never shown this finding cannot mark it.
    await transport.press(review, false_positive, "1700000100.000001", channel=OTHER_CHANNEL)
    [refusal] = await fake.wait_for("chat.postEphemeral", timeout=30)
    assert "nothing was recorded" in text_of(refusal.args["blocks"])
    assert "imported" not in text_of(refusal.args["blocks"])
    assert feedback_rows(sqlite_engine) == []

    await transport.press(review, false_positive, "1700000100.000002")
    marked = await updated_blocks(fake, 1)
    assert "✓ False positive — marked by alice" in text_of(marked)
    assert [b for b in marked if b.get("block_id", "").startswith(f"finding:{finding_id}~r")]
    assert feedback_rows(sqlite_engine) == [(finding_id, "slack:U0ALICE", "false_positive")]

    cached = await transport.command("review demo", "t-2")
    assert "(cached)" in text_of(cached) and "suppressed 1" in text_of(cached)
    assert "`os` imported" not in text_of(cached) and "`sys` imported" in text_of(cached)
    full = await transport.command("review demo full", "t-3")
    assert "suppressed 1" in text_of(full) and "`os` imported" not in text_of(full)

    listing = await transport.command("findings demo suppressed", "t-4")
    assert "`os` imported" in text_of(listing) and "marked by alice" in text_of(listing)
    await transport.press(listing, action_id(listing, "Undo false positive"), "1700000100.000003")
    undone = await updated_blocks(fake, 2)
    assert "undone by alice" in text_of(undone)
    back = await transport.command("review demo", "t-5")
    assert "`os` imported" in text_of(back) and "suppressed 0" in text_of(back)
    assert feedback_rows(sqlite_engine) == []


async def test_two_quick_presses_on_one_message_both_show(transport: Transport) -> None:
    review = await transport.command("review demo", "t-q")
    # Both payloads carry the message as it was before either press.
    await asyncio.gather(
        transport.press(review, action_id(review, "Helpful", 0), "1700000200.000001"),
        transport.press(review, action_id(review, "Resolved", 1), "1700000200.000002"),
    )
    final = await updated_blocks(transport.fake, 2)
    assert "✓ Helpful — marked by alice" in text_of(final)
    assert "✓ Resolved — marked by alice" in text_of(final)
