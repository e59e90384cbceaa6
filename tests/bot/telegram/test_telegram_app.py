"""The Telegram frontend through the real python-telegram-bot Application, against a
stand-in for the Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.telegram import TelegramAdapter, build_telegram_adapter
from bot.telegram.deliver import send_reply
from handlers.access import Role
from handlers.catalog import ACTIONS, COMMANDS
from handlers.router import Command, Request, Router
from jobs.config.loading import ConfigError, Secrets, Settings
from jobs.config.schema import AccessConfig, Config, RepoConfig, TelegramConfig
from jobs.core.reply import Block, Image, Reply
from jobs.outbox.delivery import OutboxSender, enqueue
from jobs.review.replies import finding_block
from storage.models import Feedback, Finding, InboundEvent, OutboxPost, utcnow
from tests.standins.telegram_api import (
    Call,
    TelegramApi,
    callback_update,
    command_update,
    parse_html,
)
from tests.support.commands import slow_command
from tests.support.context import jobs_context
from tests.support.rows import add_finding

KNOWN_CHAT = 42
GROUP_CHAT = -100500
ADMIN = 7
VIEWER = 8
STRANGER_CHAT = 777
PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 20


def long_reply(_request: Request) -> Reply:
    """A reply of about 10,000 characters."""
    lines = "\n".join(f"line {n:04d} " + "x" * 90 for n in range(100))
    return Reply(title="Long", blocks=[Block(text=lines)])


@pytest.fixture
def router(sqlite_engine: Engine, tmp_path: Path) -> Router:
    config = Config(
        access=AccessConfig(
            chats=[f"telegram:{KNOWN_CHAT}", f"telegram:{GROUP_CHAT}"],
            admins=[f"telegram:{ADMIN}"],
            viewers=[f"telegram:{VIEWER}"],
        ),
        telegram=TelegramConfig(enabled=True),
        repos=[RepoConfig(name="demo", path=str(tmp_path))],
    )
    commands = [*COMMANDS, Command("long", "/long", "a long reply", long_reply)]
    return Router(jobs_context(sqlite_engine, config), commands, ACTIONS)


Factory = Callable[..., Any]


@pytest.fixture
def started(telegram_api: TelegramApi, router: Router) -> Factory:
    @asynccontextmanager
    async def start(**kwargs: Any) -> AsyncIterator[TelegramAdapter]:
        adapter = TelegramAdapter(
            router,
            router.context.engine,
            telegram_api.token,
            kwargs.pop("config", TelegramConfig(enabled=True)),
            api_base_url=telegram_api.base_url,
            poll_timeout=1,
            **kwargs,
        )
        await adapter.start()
        try:
            yield adapter
        finally:
            await adapter.stop()

    return start


def votes(engine: Engine) -> list[Feedback]:
    with Session(engine) as session:
        return list(session.exec(select(Feedback)).all())


def texts(telegram_api: TelegramApi, chat_id: int) -> list[str]:
    """The plain text of every message sent to the chat, in order."""
    return [
        parse_html(c.params["text"])[0]
        for c in telegram_api.called("sendMessage")
        if int(c.params["chat_id"]) == chat_id
    ]


Posted = Callable[..., AbstractAsyncContextManager[tuple[Finding, dict[str, Any]]]]


@pytest.fixture
def posted(telegram_api: TelegramApi, started: Factory, sqlite_engine: Engine) -> Posted:
    """The adapter running and a review-like message with one finding's buttons posted
    to KNOWN_CHAT: (the finding, Telegram's copy of the message)."""

    @asynccontextmanager
    async def post(finding_id: int | None = None) -> AsyncIterator[tuple[Finding, dict[str, Any]]]:
        row = add_finding(
            sqlite_engine, id=finding_id, path="app/<main>.py",
            message="`os` imported but unused & <b>never</b> read",
        )  # fmt: skip
        reply = Reply(
            title="Review of demo",
            blocks=[Block(text="1 new finding"), finding_block(row, state="new")],
            note="reviewed by lint",
        )
        async with started() as adapter:
            # Sent as opsdesk sends replies: its message id recorded with the finding's place.
            sent = await send_reply(adapter.app.bot, KNOWN_CHAT, reply, engine=sqlite_engine)
            assert sent is not None
            yield row, telegram_api.messages[(KNOWN_CHAT, sent.message_id)]

    return post


async def press(
    telegram_api: TelegramApi, message: dict[str, Any], data: str, query_id: str, user_id: int = 42
) -> Call:
    """Press a button on the message; Telegram's answer to the press."""
    telegram_api.push(callback_update(message, data, query_id, user_id=user_id))
    await telegram_api.wait_for(lambda: telegram_api.called("answerCallbackQuery"))
    [answer] = telegram_api.called("answerCallbackQuery")
    return answer


def menus(telegram_api: TelegramApi) -> dict[str, list[str]]:
    """scope → the command names Telegram was told to show there ([] when deleted)."""
    shown: dict[str, list[str]] = {}
    for call in telegram_api.calls:
        if call.method in ("setMyCommands", "deleteMyCommands") and call.status == 200:
            scope = json.loads(call.params["scope"])
            where = "/".join(str(scope[k]) for k in ("type", "chat_id", "user_id") if k in scope)
            commands = json.loads(call.params.get("commands", "[]"))
            shown[where] = [c["command"] for c in commands]
    return shown


async def test_each_scope_gets_only_the_commands_its_people_may_use(
    telegram_api: TelegramApi, started: Factory, router: Router
) -> None:
    viewer_commands = sorted(c.name for c in router.commands.values() if c.role is Role.VIEWER)
    async with started():
        shown = menus(telegram_api)
        assert telegram_api.called("deleteWebhook"), "polling starts by dropping any webhook"
    assert "run" not in viewer_commands and "jobs" in viewer_commands
    assert shown == {
        "default": [],  # strangers are offered nothing
        f"chat/{KNOWN_CHAT}": viewer_commands,
        f"chat/{GROUP_CHAT}": viewer_commands,
        f"chat/{VIEWER}": viewer_commands,
        f"chat/{ADMIN}": sorted(router.commands),
        f"chat_member/{KNOWN_CHAT}/{ADMIN}": sorted(router.commands),
        f"chat_member/{GROUP_CHAT}/{ADMIN}": sorted(router.commands),
    }


async def test_a_command_reply_arrives(telegram_api: TelegramApi, started: Factory) -> None:
    async with started():
        telegram_api.push(command_update("/help"))
        await telegram_api.wait_for(lambda: telegram_api.called("sendMessage"))
        [text] = texts(telegram_api, KNOWN_CHAT)
        assert text.startswith("opsdesk commands")
        assert "/health" in text


async def test_a_command_addressed_to_the_bot_in_a_group_works(
    telegram_api: TelegramApi, started: Factory
) -> None:
    async with started():
        telegram_api.push(command_update("/help@opsdesk_bot", chat_id=GROUP_CHAT))
        telegram_api.push(command_update("/help@some_other_bot", chat_id=GROUP_CHAT))
        telegram_api.push(command_update("/start", chat_id=KNOWN_CHAT))
        await telegram_api.wait_for(lambda: len(telegram_api.called("sendMessage")) == 2)
        assert texts(telegram_api, GROUP_CHAT)[0].startswith("opsdesk commands")
        assert texts(telegram_api, KNOWN_CHAT)[0].startswith("Hello, this is opsdesk")


async def test_a_long_reply_is_split_on_line_boundaries(
    telegram_api: TelegramApi, started: Factory
) -> None:
    async with started():
        telegram_api.push(command_update("/long"))
        await telegram_api.wait_for(lambda: len(telegram_api.called("sendMessage")) >= 3)
        parts = texts(telegram_api, KNOWN_CHAT)
        assert len(parts) == 3
        assert all(len(part) <= 4096 for part in parts)
        lines = "\n".join(parts).splitlines()
        assert lines[0] == "Long"
        assert [line for line in lines if line.startswith("line")] == [
            f"line {n:04d} " + "x" * 90 for n in range(100)
        ]


async def test_a_button_press_records_one_vote_and_edits_the_message(
    telegram_api: TelegramApi, posted: Posted, sqlite_engine: Engine
) -> None:
    async with posted() as (row, message):
        answer = await press(telegram_api, message, f"fb:{row.id}:h", "q-1")
        await telegram_api.wait_for(lambda: telegram_api.called("editMessageText"))
        assert answer.params["callback_query_id"] == "q-1"
        assert "Helpful" in answer.params["text"]
        [vote] = votes(sqlite_engine)
        assert (vote.finding_id, vote.user, vote.verdict) == (row.id, "telegram:42", "helpful")
        edited = telegram_api.messages[(KNOWN_CHAT, message["message_id"])]
        paragraphs = edited["text"].split("\n\n")
        assert paragraphs[0] == "Review of demo"
        assert paragraphs[1] == "1 new finding"
        assert "✓ Helpful — marked by alice" in paragraphs[2]
        assert "<main>" in paragraphs[2], "the finding's text is escaped, not dropped"
        assert paragraphs[3] == "reviewed by lint"
        [buttons] = edited["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in buttons] == [
            "✓ Helpful",
            "Not helpful",
            "False positive",
            "Resolved",
        ]
        assert {b["callback_data"] for b in buttons} == {
            f"fb:{row.id}:{code}" for code in ("h", "n", "fp", "r")
        }


async def test_the_same_callback_delivered_twice_records_one_vote(
    telegram_api: TelegramApi, posted: Posted, sqlite_engine: Engine
) -> None:
    async with posted() as (row, message):
        telegram_api.push(callback_update(message, f"fb:{row.id}:fp", "q-dup"))
        telegram_api.push(callback_update(message, f"fb:{row.id}:fp", "q-dup"))
        await telegram_api.wait_for(lambda: len(telegram_api.called("answerCallbackQuery")) == 2)
        await telegram_api.wait_for(lambda: telegram_api.called("editMessageText"))
        assert len(votes(sqlite_engine)) == 1
        assert len(telegram_api.called("editMessageText")) == 1
        assert len(telegram_api.called("sendMessage")) == 1  # the posted finding only


@pytest.mark.parametrize("payload", ["fb:999999:fp", "zz:1", "fb:1:zz", "fb:x:h"])
async def test_a_forged_payload_is_refused_and_changes_nothing(
    telegram_api: TelegramApi, posted: Posted, sqlite_engine: Engine, payload: str
) -> None:
    async with posted(finding_id=1) as (_row, message):
        answer = await press(telegram_api, message, payload, "q-forged")
        assert answer.params["show_alert"] == "true"
        assert answer.params["text"]
        assert not votes(sqlite_engine)
        assert not telegram_api.called("editMessageText")


async def test_a_press_by_someone_without_rights_is_refused(
    telegram_api: TelegramApi, posted: Posted, sqlite_engine: Engine
) -> None:
    async with posted() as (row, message):
        elsewhere = {**message, "chat": {"id": STRANGER_CHAT, "type": "private"}}
        data = f"fb:{row.id}:h"
        answer = await press(telegram_api, elsewhere, data, "q-stranger", user_id=STRANGER_CHAT)
        assert "not on this opsdesk's access list" in answer.params["text"]
        assert not votes(sqlite_engine)


def inbound_keys(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(InboundEvent.event_key)).all())


async def test_an_unknown_chat_gets_one_refusal_an_hour_and_costs_no_rows(
    telegram_api: TelegramApi, started: Factory, router: Router
) -> None:
    async with started():
        for n in range(250):
            command = "/help" if n % 2 else "/health"
            last = telegram_api.push(
                command_update(command, chat_id=STRANGER_CHAT, user_id=STRANGER_CHAT)
            )
        await telegram_api.wait_for(lambda: texts(telegram_api, STRANGER_CHAT))
        confirmed = lambda: any(  # noqa: E731  (a poll past the last update: all handled)
            int(c.params.get("offset") or 0) > last["update_id"]
            for c in telegram_api.called("getUpdates")
        )
        await telegram_api.wait_for(confirmed, timeout=20)
        await asyncio.sleep(0.3)
        [refusal] = texts(telegram_api, STRANGER_CHAT)
        assert refusal.startswith("Not allowed")
        assert f"telegram:{STRANGER_CHAT}" in refusal
    assert inbound_keys(router.context.engine) == []


def enqueue_digest(engine: Engine, day: str) -> None:
    """The day's digest, with its chart, in the outbox for KNOWN_CHAT."""
    digest = Reply(
        title="Daily digest",
        blocks=[Block(text="3 reviews, 2 cache hits")],
        image=Image(png=PNG, title="Runs <per day>", filename="runs.png"),
    )
    target = f"telegram:{KNOWN_CHAT}"
    enqueue(engine, kind="digest", targets=[target], reply=digest, dedupe_key=f"digest:{day}")


async def test_a_digest_with_its_chart_is_posted_through_the_outbox(
    telegram_api: TelegramApi, started: Factory, sqlite_engine: Engine
) -> None:
    async with started() as adapter:
        enqueue_digest(sqlite_engine, "2025-01-01")
        sender = OutboxSender(sqlite_engine, {"telegram": adapter.deliverer})
        assert await sender.send_due() == 1
        [photo] = telegram_api.called("sendPhoto")
        assert photo.params["photo"] == PNG
        assert photo.params["caption"] == "Runs &lt;per day&gt;"
        assert texts(telegram_api, KNOWN_CHAT) == ["Daily digest\n\n3 reviews, 2 cache hits"]
        order = [c.method for c in telegram_api.calls if c.method in ("sendPhoto", "sendMessage")]
        assert order == ["sendPhoto", "sendMessage"]


async def test_a_429_retry_after_then_success_delivers_once(
    telegram_api: TelegramApi, started: Factory, sqlite_engine: Engine
) -> None:
    # No in-place retries: the outbox must honour the RetryAfter itself.
    async with started(max_retries=0) as adapter:
        enqueue_digest(sqlite_engine, "2025-01-02")
        telegram_api.flood_once["sendMessage"] = 7
        now = utcnow()
        clock = [now]
        sender = OutboxSender(
            sqlite_engine, {"telegram": adapter.deliverer}, clock=lambda: clock[0]
        )
        assert await sender.send_due() == 0
        with Session(sqlite_engine) as session:
            post = session.exec(select(OutboxPost)).one()
        assert post.status == "pending"
        assert post.next_attempt_at.replace(tzinfo=now.tzinfo) == now + timedelta(seconds=7)
        assert await sender.send_due() == 0, "not before the wait Telegram asked for"
        clock[0] = now + timedelta(seconds=8)
        assert await sender.send_due() == 1
        assert len(telegram_api.called("sendPhoto")) == 1, "the chart is not posted twice"
        assert len(telegram_api.called("sendMessage")) == 1
        assert len(telegram_api.called("sendMessage", ok_only=False)) == 2


async def test_the_rate_limiter_waits_out_a_short_429_in_place(
    telegram_api: TelegramApi, started: Factory
) -> None:
    async with started(max_retries=1) as adapter:
        telegram_api.flood_once["sendMessage"] = 1
        await send_reply(adapter.app.bot, KNOWN_CHAT, Reply.text("hello"))
        assert texts(telegram_api, KNOWN_CHAT) == ["hello"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_rejects_a_request_without_the_secret_token(
    telegram_api: TelegramApi, started: Factory
) -> None:
    port = free_port()
    config = TelegramConfig(
        enabled=True,
        mode="webhook",
        webhook_url="https://bot.example.org/tg/hook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )
    async with started(config=config, webhook_secret="s3cret-Token_1"):
        [set_webhook] = telegram_api.called("setWebhook")
        assert set_webhook.params["secret_token"] == "s3cret-Token_1"
        assert set_webhook.params["url"] == "https://bot.example.org/tg/hook"
        url = f"http://127.0.0.1:{port}/tg/hook"
        body = {"update_id": 1, **command_update("/help")}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=body, headers=headers) as response:
                    assert response.status == 403
            assert not telegram_api.called("sendMessage")
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
            async with http.post(url, json=body, headers=headers) as response:
                assert response.status == 200
        await telegram_api.wait_for(lambda: telegram_api.called("sendMessage"))
        assert texts(telegram_api, KNOWN_CHAT)[0].startswith("opsdesk commands")


def test_webhook_mode_without_a_secret_does_not_start(router: Router) -> None:
    config = TelegramConfig(enabled=True, mode="webhook", webhook_url="https://x.example/h")
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramAdapter(router, router.context.engine, "1:x", config)


async def test_an_unknown_command_in_a_private_chat_is_answered_as_a_reply(
    telegram_api: TelegramApi, started: Factory
) -> None:
    async with started():
        update = telegram_api.push(command_update("/nosuch"))
        await telegram_api.wait_for(lambda: telegram_api.called("sendMessage"))
        [call] = telegram_api.called("sendMessage")
        assert parse_html(call.params["text"])[0].startswith("Error\n\nUnknown command /nosuch")
        replied_to = json.loads(call.params["reply_parameters"])["message_id"]
        assert replied_to == update["message"]["message_id"]


async def test_a_slow_command_never_delays_another_chats_quick_one(
    telegram_api: TelegramApi, started: Factory, router: Router
) -> None:
    with slow_command(router) as release:
        async with started():
            # More than the Application's 16 concurrent updates, all waiting on slow work.
            for _ in range(20):
                telegram_api.push(command_update("/slow", chat_id=KNOWN_CHAT, user_id=KNOWN_CHAT))
            await asyncio.sleep(0.3)
            telegram_api.push(command_update("/jobs", chat_id=GROUP_CHAT, user_id=VIEWER))
            await telegram_api.wait_for(lambda: texts(telegram_api, GROUP_CHAT), timeout=3)
            assert not any("slow done" in t for t in texts(telegram_api, KNOWN_CHAT))
            # Slow work past the slow lane's workers says how far back it waits.
            await telegram_api.wait_for(
                lambda: "Queued: 2 ahead of you." in texts(telegram_api, KNOWN_CHAT)
            )
            release.set()
            await telegram_api.wait_for(
                lambda: sum("slow done" in t for t in texts(telegram_api, KNOWN_CHAT)) == 20,
                timeout=30,
            )


def test_webhook_mode_without_its_secret_is_a_config_error_naming_it(router: Router) -> None:
    settings = Settings(
        config=Config(
            telegram=TelegramConfig(enabled=True, mode="webhook", webhook_url="https://x.example/h")
        ),
        source="test",
        secrets=Secrets.from_env({"TELEGRAM_BOT_TOKEN": "1:abcdef"}),
        database_url="sqlite://",
        data_dir=router.context.data_dir,
    )
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        build_telegram_adapter(settings, router)


def test_opsdesk_run_in_webhook_mode_without_its_secret_exits_2_with_one_line(
    tmp_path: Path,
) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        '[telegram]\nenabled = true\nmode = "webhook"\nwebhook_url = "https://x.example/h"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TELEGRAM_BOT_TOKEN": "1:abcdef"},
    )
    assert done.returncode == 2
    # `opsdesk run` logs its progress at INFO (the database it opened); the problem is
    # one line.
    lines = [line for line in done.stderr.strip().splitlines() if " INFO " not in line]
    assert len(lines) == 1, done.stderr
    assert "TELEGRAM_WEBHOOK_SECRET" in lines[0] and "Traceback" not in done.stderr


async def test_flood_control_that_reaches_a_handler_is_a_warning_without_traceback(
    telegram_api: TelegramApi, started: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with started(max_retries=0):
        telegram_api.flood_once["sendMessage"] = 1
        telegram_api.push(command_update("/help", chat_id=KNOWN_CHAT, user_id=KNOWN_CHAT))
        await telegram_api.wait_for(lambda: telegram_api.called("sendMessage", ok_only=False))
        await asyncio.sleep(0.3)
    flood = [r for r in caplog.records if "flood control" in r.getMessage()]
    assert flood and all(r.levelno == logging.WARNING and r.exc_info is None for r in flood)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
