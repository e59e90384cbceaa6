"""The month of test_budget_month, delivered: its budget alerts go through the real
outbox sender and the Slack and Telegram deliverers to the stand-ins, and each chat
sees exactly one message per threshold crossed — the 80% one, then the 100% one in
its thread (Slack's thread_ts, Telegram's reply_parameters) — and the admin's raise in
that thread too; the days after, paused, add nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.slack import web_client
from bot.slack.deliver import SlackDeliverer
from bot.telegram.application import build_application
from bot.telegram.deliver import TelegramDeliverer
from handlers.catalog import build_router
from jobs.outbox.delivery import OutboxSender
from tests.jobs.usage.test_budget_month import ADMIN, BUDGET, Month, run_until_spent
from tests.standins.model_server import ModelServer
from tests.standins.slack_api import BOT_TOKEN, SlackApi
from tests.standins.telegram_api import TelegramApi

TELEGRAM_CHAT = 42


async def test_each_threshold_is_one_message_in_one_thread_on_slack_and_telegram(
    sqlite_engine: Engine,
    tmp_path: Path,
    model_server: ModelServer,
    slack_api: SlackApi,
    telegram_api: TelegramApi,
) -> None:
    month = Month(sqlite_engine, tmp_path, model_server, "pause",
                  post_to=("slack:C1", f"telegram:{TELEGRAM_CHAT}"))  # fmt: skip
    telegram = build_application(telegram_api.token, telegram_api.base_url, max_retries=0)
    await telegram.initialize()
    slack = web_client(BOT_TOKEN, slack_api.base_url + "api/", retry_rate_limits=False)
    deliverers = {"slack": SlackDeliverer(slack), "telegram": TelegramDeliverer(telegram.bot)}
    sender = OutboxSender(sqlite_engine, deliverers, clock=month.clock)
    try:
        _, day_80, day_100 = await asyncio.to_thread(run_until_spent, month)
        assert day_80 < day_100
        assert await sender.send_due() == 4  # two alerts, each to both chats
        for _ in range(3):  # paused days: the model is refused, nothing is said again
            assert (await asyncio.to_thread(month.next_day))["api"].status == "failed"
        assert await sender.send_due() == 0
        raised = await asyncio.to_thread(build_router(month.context).handle, ADMIN,
                                         f"/budget api +{BUDGET // 1000}k")  # fmt: skip
        assert raised.status == "ok", raised
        assert await sender.send_due() == 2
    finally:
        await telegram.shutdown()

    first, *later = slack_api.ok_calls("chat.postMessage")
    assert [c.args["channel"] for c in (first, *later)] == ["C1"] * 3
    assert "thread_ts" not in first.args and "80% used" in json.dumps(first.args)
    parent_ts = slack_api.posts_of("C1")[0].ts
    assert [c.args["thread_ts"] for c in later] == [parent_ts, parent_ts]
    assert "spent" in json.dumps(later[0].args) and "raised by" in json.dumps(later[1].args)

    top, *replies = telegram_api.called("sendMessage")
    assert {int(c.params["chat_id"]) for c in (top, *replies)} == {TELEGRAM_CHAT}
    assert "reply_parameters" not in top.params and "80% used" in top.params["text"]
    parent_id = min(m for chat, m in telegram_api.messages if chat == TELEGRAM_CHAT)
    assert [json.loads(c.params["reply_parameters"])["message_id"] for c in replies] == [
        parent_id,
        parent_id,
    ]
    assert len(replies) == 2
