"""Long polling end to end, once: the adapter logs in, drops any webhook, publishes
its menus and polls the Bot API stand-in; a command pushed there is answered and a
button press edits the message it was on."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.telegram import TelegramAdapter
from bot.telegram.deliver import send_reply
from handlers.router import Router
from jobs.config.schema import TelegramConfig
from jobs.core.reply import Reply
from jobs.review.replies import finding_block
from tests.bot.telegram.conftest import KNOWN_CHAT
from tests.standins.telegram_api import TelegramApi, callback_update, command_update, parse_html
from tests.support.rows import add_finding


async def test_over_long_polling_a_command_is_answered_and_a_press_edits_its_message(
    telegram_api: TelegramApi, router: Router, sqlite_engine: Engine
) -> None:
    adapter = TelegramAdapter(
        router, sqlite_engine, telegram_api.token, TelegramConfig(enabled=True),
        api_base_url=telegram_api.base_url, poll_timeout=1,
    )  # fmt: skip
    row = add_finding(sqlite_engine, message="`os` imported but unused")
    await adapter.start()
    try:
        assert adapter.connected()
        assert telegram_api.called("getMe") and telegram_api.called("setMyCommands")
        assert telegram_api.called("deleteWebhook"), "polling starts by dropping any webhook"
        telegram_api.push(command_update("/help"))
        await telegram_api.wait_for(lambda: telegram_api.called("sendMessage"))
        [helped] = telegram_api.called("sendMessage")
        assert parse_html(helped.params["text"])[0].startswith("opsdesk commands")

        reply = Reply(title="Review of demo", blocks=[finding_block(row)])
        sent = await send_reply(adapter.app.bot, KNOWN_CHAT, reply, engine=sqlite_engine)
        assert sent is not None
        message = telegram_api.messages[(KNOWN_CHAT, sent.message_id)]
        telegram_api.push(callback_update(message, f"fb:{row.id}:h", "q-1"))
        await telegram_api.wait_for(lambda: telegram_api.called("editMessageText"))
    finally:
        await adapter.stop()
    [answer] = telegram_api.called("answerCallbackQuery")
    assert "Helpful" in answer.params["text"]
    edited = telegram_api.messages[(KNOWN_CHAT, sent.message_id)]["text"]
    assert "👍 Helpful — marked by alice" in edited
