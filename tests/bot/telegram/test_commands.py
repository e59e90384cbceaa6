"""Commands, translated: which messages are commands, what is sent back and where,
redeliveries and strangers, and lanes that keep a slow command from delaying a quick
one. What each command answers is the router's (tests/handlers)."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from handlers.router import Router
from storage.models import InboundEvent
from tests.bot.telegram.conftest import (
    GROUP_CHAT,
    KNOWN_CHAT,
    STRANGER_CHAT,
    VIEWER,
    TelegramBot,
    running_bot,
)
from tests.standins.telegram_api import TelegramApi, command_update, parse_html
from tests.support.commands import slow_command


def inbound_keys(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(InboundEvent.event_key)).all())


async def test_a_command_reply_arrives(telegram: TelegramBot) -> None:
    await telegram.send(command_update("/help"))
    [text] = telegram.texts(KNOWN_CHAT)
    assert text.startswith("opsdesk commands")
    assert "/health" in text


async def test_a_command_addressed_to_the_bot_in_a_group_works(telegram: TelegramBot) -> None:
    await telegram.send(
        command_update("/help@opsdesk_bot", chat_id=GROUP_CHAT),
        command_update("/help@some_other_bot", chat_id=GROUP_CHAT),
        command_update("/start", chat_id=KNOWN_CHAT),
    )
    assert len(telegram.api.called("sendMessage")) == 2
    [group] = telegram.texts(GROUP_CHAT)
    assert group.startswith("opsdesk commands")
    assert telegram.texts(KNOWN_CHAT)[0].startswith("Hello, this is opsdesk")


async def test_an_edited_message_is_not_a_command_again(telegram: TelegramBot) -> None:
    edited = command_update("/help")
    await telegram.send({"edited_message": {**edited["message"], "edit_date": 1}})
    assert telegram.api.called("sendMessage") == []


async def test_a_long_reply_is_split_on_line_boundaries(telegram: TelegramBot) -> None:
    await telegram.send(command_update("/long"))
    parts = telegram.texts(KNOWN_CHAT)
    assert len(parts) == 3
    assert all(len(part) <= 4096 for part in parts)
    lines = "\n".join(parts).splitlines()
    assert lines[0] == "Long"
    assert [line for line in lines if line.startswith("line")] == [
        f"line {n:04d} " + "x" * 90 for n in range(100)
    ]


async def test_an_unknown_command_in_a_private_chat_is_answered_as_a_reply(
    telegram: TelegramBot,
) -> None:
    [update] = await telegram.send(command_update("/nosuch"))
    [call] = telegram.api.called("sendMessage")
    assert parse_html(call.params["text"])[0].startswith("Error\n\nUnknown command /nosuch")
    replied_to = json.loads(call.params["reply_parameters"])["message_id"]
    assert replied_to == update["message"]["message_id"]


async def test_in_a_group_a_likely_typo_of_ours_is_answered_and_other_commands_pass(
    telegram: TelegramBot,
) -> None:
    await telegram.send(
        command_update("/reveiw demo", chat_id=GROUP_CHAT),
        command_update("/reveiw@some_other_bot demo", chat_id=GROUP_CHAT),
        command_update("/weather", chat_id=GROUP_CHAT),
    )
    [answer] = telegram.texts(GROUP_CHAT)
    assert "Unknown command /reveiw. Did you mean /review?" in answer


async def test_a_redelivered_update_is_answered_once(telegram: TelegramBot, router: Router) -> None:
    """Whether its answer needs work (/jobs) or none (/help)."""
    jobs = {"update_id": 900, **command_update("/jobs")}
    helped = {"update_id": 901, **command_update("/help")}
    await telegram.send(jobs, helped)
    await telegram.send(jobs, helped)
    assert len(telegram.texts(KNOWN_CHAT)) == 2
    assert sorted(inbound_keys(router.context.engine)) == ["update:900", "update:901"]


async def test_an_unknown_chat_gets_one_refusal_an_hour_and_costs_no_rows(
    telegram: TelegramBot, router: Router
) -> None:
    await telegram.send(
        *[
            command_update(
                "/help" if n % 2 else "/health", chat_id=STRANGER_CHAT, user_id=STRANGER_CHAT
            )
            for n in range(250)
        ]
    )
    [refusal] = telegram.texts(STRANGER_CHAT)
    assert refusal.startswith("Not allowed")
    assert f"telegram:{STRANGER_CHAT}" in refusal
    assert "not repeated within the hour" in refusal
    assert inbound_keys(router.context.engine) == []


async def test_a_slow_command_never_delays_another_chats_quick_one(
    telegram: TelegramBot, router: Router
) -> None:
    started: list[str] = []
    with slow_command(router, started) as release:
        # More than the Application's 16 concurrent updates, all waiting on slow work.
        await telegram.push(
            *[command_update("/slow", chat_id=KNOWN_CHAT, user_id=KNOWN_CHAT) for _ in range(20)]
        )
        await telegram.api.wait_for(lambda: len(started) == 4)  # every slow worker is held
        await telegram.push(command_update("/jobs", chat_id=GROUP_CHAT, user_id=VIEWER))
        await telegram.api.wait_for(lambda: telegram.texts(GROUP_CHAT))
        assert not any("slow done" in t for t in telegram.texts(KNOWN_CHAT))
        # Slow work past the slow lane's workers says how far back it waits.
        await telegram.api.wait_for(lambda: "Queued: 2 ahead of you." in telegram.texts(KNOWN_CHAT))
        assert telegram.api.called("sendChatAction")  # the first four: "typing"
        release.set()
        await telegram.settled()
    assert sum("slow done" in t for t in telegram.texts(KNOWN_CHAT)) == 20


async def test_flood_control_that_reaches_a_handler_is_a_warning_without_traceback(
    telegram_api: TelegramApi, router: Router, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = await running_bot(telegram_api, router, router.context.engine, max_retries=0)
    try:
        telegram_api.flood_once["sendMessage"] = 1
        await bot.send(command_update("/help", chat_id=KNOWN_CHAT, user_id=KNOWN_CHAT))
        assert telegram_api.called("sendMessage", ok_only=False)
    finally:
        await bot.app.stop()
        await bot.app.shutdown()
    flood = [r for r in caplog.records if "flood control" in r.getMessage()]
    assert flood and all(r.levelno == logging.WARNING and r.exc_info is None for r in flood)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
