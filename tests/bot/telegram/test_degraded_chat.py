"""A Telegram chat the bot is not in shows in /health as degraded, with the fix."""

from __future__ import annotations

from bot.telegram.application import build_application
from bot.telegram.deliver import TelegramDeliverer
from handlers.health import health_report
from jobs.context import Context
from jobs.core.reply import Reply
from jobs.outbox.delivery import OutboxSender, enqueue
from tests.standins.telegram_api import TelegramApi


async def test_a_telegram_chat_not_found_shows_degraded_with_the_fix(
    context: Context,
) -> None:
    api = TelegramApi(unknown_chats={-100999})
    await api.start()
    try:
        application = build_application(api.token, api.base_url, max_retries=0)
        await application.bot.initialize()
        engine = context.engine
        sender = OutboxSender(engine, {"telegram": TelegramDeliverer(application.bot)})
        enqueue(
            engine, kind="job", targets=["telegram:-100999"], reply=Reply.text("x"), dedupe_key="t"
        )
        assert await sender.send_due() == 0
        await application.bot.shutdown()
    finally:
        await api.stop()
    report = health_report(context, probe_model=False)
    [target] = [c for c in report.components if c.name == "posts to telegram:-100999"]
    assert target.status == "degraded"
    assert report.status == "degraded" and report.healthy  # opsdesk itself still serves
    assert "Chat not found" in target.detail
    assert "add the bot to that Telegram chat" in target.detail
