"""Ack first, always: slow commands in flight never stop others from being acked."""

from __future__ import annotations

import asyncio
import json
import time

from bot.slack.listeners import WORKING
from handlers.router import Router
from tests.bot.slack.conftest import SlackServer
from tests.support.commands import slow_command

SLACK_ACK_LIMIT_S = 3.0


async def timed_post(server: SlackServer, body: str) -> tuple[float, int, str]:
    begun = time.monotonic()
    status, text = await server.post(body)
    return time.monotonic() - begun, status, text


async def test_quick_commands_are_acked_while_seven_slow_ones_run(
    slack_server: SlackServer, slack_router: Router
) -> None:
    started = list[str]()
    with slow_command(slack_router, started):
        slow = [
            timed_post(slack_server, slack_server.command_body("slow", trigger_id=f"slow.{i}"))
            for i in range(7)
        ]
        slow_acks = await asyncio.gather(*slow)
        quick = [
            timed_post(slack_server, slack_server.command_body(text, trigger_id=f"q.{i}"))
            for i, text in enumerate(["health", "help", "jobs", "health", "nosuch"])
        ]
        quick_acks = await asyncio.gather(*quick)
        for seconds, status, _ in [*slow_acks, *quick_acks]:
            assert status == 200
            assert seconds < SLACK_ACK_LIMIT_S / 3
        # The three quick commands that need the database answer while the slow ones wait.
        answers = await slack_server.fake.wait_for("response", count=3)
        assert all("slow done" not in json.dumps(a.args) for a in answers)
        # Slow work beyond the slow lane's workers waits and says how far back it is.
        said = sorted(json.loads(text)["text"] for _, _, text in slow_acks)
        assert said == [
            "Queued: 1 ahead of you.",
            "Queued: 2 ahead of you.",
            "Queued: next in line.",
            *[WORKING] * 4,
        ]
    await slack_server.fake.wait_for("response", count=3 + 7, timeout=10)
    assert len(started) == 7


async def test_a_command_is_never_run_twice_when_slack_retries_it(
    slack_server: SlackServer, slack_router: Router
) -> None:
    started = list[str]()
    with slow_command(slack_router, started):  # released on leaving
        body = slack_server.command_body("slow", trigger_id="retried.1")
        await slack_server.post(body)
        status, again = await slack_server.post(body, retry_num=1)
        assert (status, again) == (200, "")
    await slack_server.fake.wait_for("response")
    await asyncio.sleep(0.3)
    assert started == ["U0ALICE"]
    assert len(slack_server.fake.ok_calls("response")) == 1
