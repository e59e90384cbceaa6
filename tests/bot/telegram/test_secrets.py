"""The bot token is part of every Bot API URL: it must never reach a log line, a
traceback or an error message."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

import pytest

from bot.logs import setup_logging
from bot.telegram import TelegramAdapter, TelegramStartError, build_telegram_adapter
from handlers.router import Router
from jobs.config.loading import ConfigError, Secrets, Settings
from jobs.config.schema import Config, TelegramConfig
from tests.standins.telegram_api import TOKEN, TelegramApi


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("httpx", "telegram", "bot")}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


async def test_the_token_is_redacted_from_every_log_line(
    telegram_api: TelegramApi,
    router: Router,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    setup_logging(verbose=True, secrets=[TOKEN])
    # The worst case: someone turns httpx and PTB up to DEBUG, where URLs are logged.
    for name in ("httpx", "telegram", "bot"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    adapter = TelegramAdapter(
        router,
        router.context.engine,
        TOKEN,
        TelegramConfig(),
        api_base_url=telegram_api.base_url,
        poll_timeout=1,
    )
    await adapter.start()  # getMe, the menus and getUpdates: every URL has the token
    try:
        await adapter.deliverer.bot.send_message(42, "direct")
    finally:
        await adapter.stop()
    err = capsys.readouterr().err
    assert "HTTP Request: POST" in err, "httpx did log the requests"
    assert "[redacted]" in err
    assert TOKEN not in err
    assert TOKEN.split(":")[1] not in err


async def test_a_rejected_token_is_not_quoted_in_the_error(
    telegram_api: TelegramApi, router: Router
) -> None:
    wrong = "999999:this-token-is-wrong-and-secret"
    adapter = TelegramAdapter(
        router, router.context.engine, wrong, TelegramConfig(), api_base_url=telegram_api.base_url
    )
    with pytest.raises(TelegramStartError) as caught:
        await adapter.start()
    await adapter.app.shutdown()
    shown = "".join(traceback.format_exception(caught.value))
    assert "rejected TELEGRAM_BOT_TOKEN" in shown
    assert "this-token-is-wrong" not in shown


def test_the_adapter_is_built_only_when_enabled_with_a_token(router: Router) -> None:
    def settings(enabled: bool, token: str | None) -> Settings:
        env = {"TELEGRAM_BOT_TOKEN": token} if token else {}
        return Settings(
            config=Config(telegram=TelegramConfig(enabled=enabled)),
            source="test",
            secrets=Secrets.from_env(env),
            database_url="sqlite://",
            data_dir=router.context.data_dir,
        )

    assert build_telegram_adapter(settings(False, "1:abcdef"), router) is None
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN is not set"):
        build_telegram_adapter(settings(True, None), router)
    env = {"TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/"}
    adapter = build_telegram_adapter(settings(True, "1:abcdef"), router, env)
    assert adapter is not None
    assert adapter.app.bot.base_url == "http://127.0.0.1:9/bot1:abcdef"
    assert "abcdef" not in repr(settings(True, "1:abcdef").secrets)
