"""Diagnosis works during a database outage, against a real `opsdesk run` on a real
PostgreSQL reached through a proxy the test cuts: /health asked in Telegram while the
database is unreachable is answered (its delivery could not be recorded, and Telegram
will not deliver it again), and the answer says the database cannot be reached."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage import migrate
from storage.db import make_engine
from tests.standins.telegram_api import TOKEN, TelegramApi, command_update, parse_html
from tests.support.processes import OpsdeskProcess, config_on
from tests.support.tcp_proxy import tcp_proxy_for

pytestmark = pytest.mark.postgres

CHAT = 42


async def test_health_asked_in_chat_during_an_outage_is_answered(
    pg_url: str, telegram_api: TelegramApi, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    await asyncio.to_thread(migrate.upgrade, engine)
    engine.dispose()
    with tcp_proxy_for(pg_url) as proxy:
        config = config_on(
            tmp_path,
            proxy.url_for(pg_url),
            f'[access]\nchats = ["telegram:{CHAT}"]\n[telegram]\nenabled = true\n',
        )
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": telegram_api.base_url}
        process = OpsdeskProcess(config, env)
        try:
            await asyncio.to_thread(process.wait_for, "telegram: connected as ")
            mark = process.mark()
            proxy.cut()
            telegram_api.push(command_update("/health", chat_id=CHAT, user_id=CHAT))
            await telegram_api.wait_for(lambda: telegram_api.called("sendMessage"))
            assert process.matching("could not record a delivery", after=mark)
        finally:
            proxy.restore()
            process.stop()
    [answer] = telegram_api.called("sendMessage")
    text, _ = parse_html(answer.params["text"])
    assert "❌ database: cannot connect to the database" in text
    assert "SELECT" not in text
