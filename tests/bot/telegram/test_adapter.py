"""The Telegram adapter around the Application: the command menus it publishes, the
outbox's deliveries through it, flood control, and webhook mode's secret."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.telegram import TelegramAdapter, build_telegram_adapter
from bot.telegram.deliver import TelegramDeliverer, send_reply
from handlers.access import Role
from handlers.router import Router
from jobs.config.loading import ConfigError, Secrets, Settings
from jobs.config.schema import Config, TelegramConfig
from jobs.core.reply import Block, Image, Reply
from jobs.outbox.delivery import OutboxSender, enqueue
from storage.models import OutboxPost, utcnow
from tests.bot.telegram.conftest import (
    ADMIN,
    GROUP_CHAT,
    KNOWN_CHAT,
    VIEWER,
    TelegramBot,
    running_bot,
)
from tests.standins.telegram_api import TelegramApi, command_update, parse_html
from tests.support.waiting import watching

PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 20


def adapter_for(
    api: TelegramApi, router: Router, config: TelegramConfig, **kwargs: object
) -> TelegramAdapter:
    return TelegramAdapter(
        router, router.context.engine, api.token, config,
        api_base_url=api.base_url, poll_timeout=1, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


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
    telegram_api: TelegramApi, router: Router
) -> None:
    viewer_commands = sorted(c.name for c in router.commands.values() if c.role is Role.VIEWER)
    adapter = adapter_for(telegram_api, router, TelegramConfig(enabled=True))
    await adapter.app.initialize()
    try:
        await adapter.publish_menus()
    finally:
        await adapter.app.shutdown()
    assert "run" not in viewer_commands and "jobs" in viewer_commands
    assert menus(telegram_api) == {
        "default": [],  # strangers are offered nothing
        f"chat/{KNOWN_CHAT}": viewer_commands,
        f"chat/{GROUP_CHAT}": viewer_commands,
        f"chat/{VIEWER}": viewer_commands,
        f"chat/{ADMIN}": sorted(router.commands),
        f"chat_member/{KNOWN_CHAT}/{ADMIN}": sorted(router.commands),
        f"chat_member/{GROUP_CHAT}/{ADMIN}": sorted(router.commands),
    }


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
    telegram: TelegramBot, sqlite_engine: Engine
) -> None:
    enqueue_digest(sqlite_engine, "2025-01-01")
    sender = OutboxSender(sqlite_engine, {"telegram": TelegramDeliverer(telegram.app.bot)})
    assert await sender.send_due() == 1
    [photo] = telegram.api.called("sendPhoto")
    assert photo.params["photo"] == PNG
    assert photo.params["caption"] == "Runs &lt;per day&gt;"
    assert telegram.texts(KNOWN_CHAT) == ["Daily digest\n\n3 reviews, 2 cache hits"]
    order = [c.method for c in telegram.api.calls if c.method in ("sendPhoto", "sendMessage")]
    assert order == ["sendPhoto", "sendMessage"]


async def test_a_follow_up_is_sent_as_a_reply_to_the_post_it_names(
    telegram: TelegramBot, sqlite_engine: Engine
) -> None:
    target = f"telegram:{KNOWN_CHAT}"
    first, later = Reply.text("80% used", "Budget"), Reply.text("spent", "Budget")
    enqueue(sqlite_engine, kind="alert", targets=[target], reply=first, dedupe_key="b:1")
    enqueue(
        sqlite_engine, kind="alert", targets=[target], reply=later, dedupe_key="b:2",
        thread_of="b:1",
    )  # fmt: skip
    sender = OutboxSender(sqlite_engine, {"telegram": TelegramDeliverer(telegram.app.bot)})

    assert await sender.send_due() == 2

    parent, child = telegram.api.called("sendMessage")
    assert "reply_parameters" not in parent.params
    with Session(sqlite_engine) as session:
        sent = session.exec(select(OutboxPost).where(OutboxPost.dedupe_key == f"b:1|{target}"))
        parent_ref = sent.one().message_ref
    assert parent_ref is not None
    replying_to = json.loads(child.params["reply_parameters"])["message_id"]
    assert str(replying_to) == parent_ref.rpartition(":")[2]


async def test_a_429_retry_after_then_success_delivers_once(
    telegram_api: TelegramApi, router: Router, sqlite_engine: Engine
) -> None:
    # No in-place retries: the outbox must honour the RetryAfter itself.
    bot = await running_bot(telegram_api, router, sqlite_engine, max_retries=0)
    try:
        enqueue_digest(sqlite_engine, "2025-01-02")
        telegram_api.flood_once["sendMessage"] = 7
        now = utcnow()
        clock = [now]
        deliverer = TelegramDeliverer(bot.app.bot)
        sender = OutboxSender(sqlite_engine, {"telegram": deliverer}, clock=lambda: clock[0])
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
    finally:
        await bot.app.stop()
        await bot.app.shutdown()


async def test_the_rate_limiter_waits_out_a_short_429_in_place(
    telegram_api: TelegramApi, router: Router, sqlite_engine: Engine
) -> None:
    bot = await running_bot(telegram_api, router, sqlite_engine, max_retries=1)
    try:
        telegram_api.flood_once["sendMessage"] = 1
        await send_reply(bot.app.bot, KNOWN_CHAT, Reply.text("hello"))
        assert bot.texts(KNOWN_CHAT) == ["hello"]
        assert len(telegram_api.called("sendMessage", ok_only=False)) == 2
    finally:
        await bot.app.stop()
        await bot.app.shutdown()


def webhook_config(port: int) -> TelegramConfig:
    return TelegramConfig(
        enabled=True,
        mode="webhook",
        webhook_url="https://bot.example.org/tg/hook",
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )


async def test_webhook_mode_rejects_a_request_without_the_secret_token(
    telegram_api: TelegramApi, router: Router
) -> None:
    """Over real HTTP: the secret is checked only by the webhook server itself. On port
    0 it listens where the system put it, and says where."""
    adapter = adapter_for(telegram_api, router, webhook_config(0), webhook_secret="s3cret-Token_1")
    with watching("bot.telegram.adapter", logging.INFO) as log:
        await adapter.start()
    try:
        port = adapter.bound_port
        assert port != 0
        assert log.matching(rf"^telegram: webhook listening on 127\.0\.0\.1:{port}$")
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
    finally:
        await adapter.stop()
    [answer] = telegram_api.called("sendMessage")
    assert int(answer.params["chat_id"]) == KNOWN_CHAT
    assert parse_html(answer.params["text"])[0].startswith("opsdesk commands")


async def test_a_webhook_port_it_cannot_have_is_refused_before_telegram_is_told_the_url(
    telegram_api: TelegramApi, router: Router
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        adapter = adapter_for(telegram_api, router, webhook_config(port), webhook_secret="s1")
        try:
            with pytest.raises(OSError) as raised:
                await adapter.start()
        finally:
            await adapter.stop()
    assert adapter.refusal(raised.value) == (
        f"cannot listen for the webhook on port {port}: Address already in use"
    )
    assert not telegram_api.called("setWebhook", ok_only=False)


def test_webhook_mode_without_a_secret_does_not_start(router: Router) -> None:
    config = TelegramConfig(enabled=True, mode="webhook", webhook_url="https://x.example/h")
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramAdapter(router, router.context.engine, "1:x", config)


@pytest.mark.parametrize("secret", [None, "has space", "semi;colon", "é", "x" * 257])
def test_webhook_mode_without_a_secret_telegram_accepts_is_a_config_error_naming_it(
    router: Router, secret: str | None
) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:abcdef"} | (
        {"TELEGRAM_WEBHOOK_SECRET": secret} if secret else {}
    )
    settings = Settings(
        config=Config(
            telegram=TelegramConfig(enabled=True, mode="webhook", webhook_url="https://x.example/h")
        ),
        source="test",
        secrets=Secrets.from_env(env),
        database_url="sqlite://",
        data_dir=router.context.data_dir,
    )
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET") as error:
        build_telegram_adapter(settings, router)
    if secret:  # what is wrong with it, never the secret itself
        assert "1-256 characters of A-Z" in str(error.value) and secret not in str(error.value)


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
    # `opsdesk run` logs its progress at INFO (the database it opened); the refusal is
    # a heading naming the file, then one line per mistake: here exactly one.
    lines = [line for line in done.stderr.strip().splitlines() if " INFO " not in line]
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("opsdesk: cannot start (") and str(config) in lines[0]
    assert "TELEGRAM_WEBHOOK_SECRET" in lines[1] and "Traceback" not in done.stderr
