"""Chat is optional for the work, against a real `opsdesk run`: Slack or Telegram
unreachable at start (a proxy in front of the stand-in that refuses every connection)
→ jobs run, the adapter keeps trying with a bounded backoff and says so in health,
connects once the platform is back, and SIGTERM ends the process within the grace in
every state, start-up included. A token the platform rejects is still exit 2."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from sqlalchemy.engine import Engine

from storage.db import make_engine
from storage.models import Heartbeat
from tests.standins.slack_api import SlackApi
from tests.standins.telegram_api import TOKEN, TelegramApi
from tests.support.cli import TOKENS
from tests.support.processes import OpsdeskProcess
from tests.support.tcp_proxy import TcpProxy

TICK = r"job tick run \d+: ok"
GRACE_S = 5.0


def config_for(tmp_path: Path, chat: str) -> Path:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        "[operator]\nenabled = false\n"
        f'[scheduler]\nshutdown_grace = "{int(GRACE_S)}s"\n'
        f"[{chat}]\nenabled = true\n"
        '[[jobs]]\nname = "tick"\ncommand = "true"\nschedule = "every 1s"\n'
    )
    return config


def proxy_to(base_url: str) -> TcpProxy:
    """A proxy in front of a stand-in, cut from the start: the platform is unreachable."""
    host, _, port = base_url.split("//", 1)[1].rstrip("/").partition(":")
    proxy = TcpProxy((host, int(port.split("/")[0])))
    proxy.cut()
    return proxy


def heartbeat_of(data_dir: Path, component: str) -> Heartbeat | None:
    engine: Engine = make_engine(f"sqlite:///{data_dir / 'opsdesk.db'}")
    try:
        from sqlmodel import Session

        with Session(engine) as session:
            return session.get(Heartbeat, component)
    finally:
        engine.dispose()


async def stopped_within_grace(process: OpsdeskProcess) -> int:
    """SIGTERM, and the exit code; fails when it takes longer than the grace (plus the
    interpreter's own exit)."""
    began = time.monotonic()
    code = await asyncio.to_thread(process.stop, GRACE_S + 10)
    took = time.monotonic() - began
    assert took < GRACE_S + 5, f"took {took:.1f}s to stop"
    return code


async def test_slack_unreachable_at_start_jobs_run_and_it_connects_later(
    slack_api: SlackApi, tmp_path: Path
) -> None:
    proxy = proxy_to(slack_api.base_url)
    env = {
        "SLACK_BOT_TOKEN": TOKENS["SLACK_BOT_TOKEN"],
        "SLACK_APP_TOKEN": TOKENS["SLACK_APP_TOKEN"],
        "SLACK_API_URL": f"http://127.0.0.1:{proxy.port}/api/",
    }
    process = OpsdeskProcess(config_for(tmp_path, "slack"), env)
    try:
        start = await asyncio.to_thread(process.wait_for, " started: ")
        assert "chat slack (socket, connecting)" in start
        await asyncio.to_thread(process.wait_for, TICK)  # the jobs do not wait for chat
        await asyncio.to_thread(process.wait_for, r"slack: not connected \(attempt 2: ")
        beat = await asyncio.to_thread(heartbeat_of, tmp_path / "data", "slack")
        assert beat is not None and beat.status == "connecting"
        detail = json.loads(beat.detail)
        assert detail["attempt"] >= 1 and detail["last_error"]
        mark = process.mark()
        proxy.restore()
        await asyncio.to_thread(process.wait_for, "slack: connected in Socket Mode", mark)
        assert slack_api.ok_calls("apps.connections.open")
        assert await stopped_within_grace(process) == 0
    finally:
        process.kill()
        proxy.close()
    # One line per doubling of the wait, not one per try.
    assert len(process.matching("slack: not connected")) <= 4
    assert "Traceback" not in "".join(process.lines)


async def test_telegram_unreachable_sigterm_ends_it_within_the_grace(
    telegram_api: TelegramApi, tmp_path: Path
) -> None:
    proxy = proxy_to(telegram_api.base_url)
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{proxy.port}/bot",
    }
    process = OpsdeskProcess(config_for(tmp_path, "telegram"), env)
    try:
        start = await asyncio.to_thread(process.wait_for, " started: ")
        assert "chat telegram (polling, connecting)" in start
        await asyncio.to_thread(process.wait_for, TICK)
        await asyncio.to_thread(process.wait_for, r"telegram: not connected \(attempt 1: ")
        assert await stopped_within_grace(process) == 0
    finally:
        process.kill()
        proxy.close()
    assert telegram_api.called("getMe") == []


async def test_sigterm_during_start_up_ends_it(tmp_path: Path) -> None:
    """A database that accepts the connection and never answers holds start-up; SIGTERM
    still ends the process at once."""
    silent = TcpProxy(("127.0.0.1", 9))
    silent.hold()
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'database_url = "postgresql://opsdesk@127.0.0.1:{silent.port}/opsdesk"\n'
        "[operator]\nenabled = false\n"
    )
    process = OpsdeskProcess(config)
    try:
        await asyncio.to_thread(silent.accepted.wait, 60)
        assert await stopped_within_grace(process) == 0
        assert process.matching("stopped during start-up")
    finally:
        process.kill()
        silent.close()


async def test_a_rejected_telegram_token_is_exit_2_without_the_token(
    telegram_api: TelegramApi, tmp_path: Path
) -> None:
    wrong = "999999:WrongTokenSecretValue0123456789"
    env = {"TELEGRAM_BOT_TOKEN": wrong, "TELEGRAM_API_BASE_URL": f"{telegram_api.base_url}/bot"}
    process = OpsdeskProcess(config_for(tmp_path, "telegram"), env)
    try:
        code = await asyncio.to_thread(process.process.wait, 60)
    finally:
        process.kill()
    log = "".join(process.lines)
    assert code == 2, log
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in log
    assert wrong not in log and "WrongTokenSecretValue" not in log
