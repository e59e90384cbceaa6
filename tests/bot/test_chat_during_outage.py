"""Diagnosis works during a database outage, against a real `opsdesk run` on a real
PostgreSQL reached through a proxy the test cuts: /health asked in Telegram while the
database is unreachable is answered (its delivery could not be recorded, and Telegram
will not deliver it again), and the answer says the database cannot be reached; and
SIGTERM ends the process within the grace while a run's end waits for the database."""

from __future__ import annotations

import asyncio
import re
import time
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
    assert re.search(r"down since \d\d:\d\d:\d\d UTC", text), text
    assert "SELECT" not in text


async def test_sigterm_during_an_outage_ends_it_within_the_grace(
    pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    await asyncio.to_thread(migrate.upgrade, engine)
    engine.dispose()
    with tcp_proxy_for(pg_url) as proxy:
        rest = '[scheduler]\nheartbeat = "1s"\nshutdown_grace = "2s"\n'
        rest += '[[jobs]]\nname = "tick"\ncommand = "true"\nschedule = "every 1s"\n'
        process = OpsdeskProcess(config_on(tmp_path, proxy.url_for(pg_url), rest))
        try:
            await asyncio.to_thread(process.wait_for, r"job tick run \d+: ok")
            mark = process.mark()
            proxy.cut()
            await asyncio.to_thread(process.wait_for, "stepped down as scheduler leader", mark)
            began = time.monotonic()
            code = await asyncio.to_thread(process.stop, 30)
            took = time.monotonic() - began
        finally:
            process.kill()
    assert code == 0, process.log()
    assert took < 2 + 8, f"took {took:.1f}s to stop:\n{process.log()}"
