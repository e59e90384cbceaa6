"""Shutdown reaches every run: `opsdesk run`'s loop (run_forever) in-process with the
real Slack and Telegram adapters against their local stand-ins."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import Session, select

from bot.runtime import run_forever
from jobs.config.loading import Secrets, Settings
from jobs.config.schema import (
    AccessConfig,
    Config,
    JobConfig,
    OperatorConfig,
    SchedulerConfig,
    SlackConfig,
    TelegramConfig,
)
from jobs.core.reply import Reply
from jobs.outbox.delivery import enqueue
from storage import migrate
from storage.db import make_engine
from storage.models import JobRun, OutboxPost
from tests.standins.slack_api import SIGNING_SECRET, SlackApi, sign
from tests.standins.telegram_api import TOKEN, TelegramApi
from tests.support.cli import port_in
from tests.support.waiting import fifo_line, watching

GRACE_S = 1.0
HANG_GUARD_S = 60
SERVING = "slack: serving /slack/events on"  # HOST:PORT follows: the port it got


def settings_for(tmp_path: Path, config: Config, env: dict[str, str]) -> Settings:
    """`config` with the operator's page on a port the system picks, never the default
    8787 (another program may hold it)."""
    return Settings(
        config=config.model_copy(update={"operator": OperatorConfig(listen="127.0.0.1:0")}),
        source="test",
        secrets=Secrets.from_env(env),
        database_url=f"sqlite:///{tmp_path / 'opsdesk.db'}",
        data_dir=tmp_path / "data",
    )


def runs_of(database_url: str, job: str) -> list[JobRun]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(JobRun).where(JobRun.job == job)).all())
    finally:
        engine.dispose()


def long_job_command(tmp_path: Path) -> str:
    """A job that says through a FIFO that it runs (its run row exists), then lasts."""
    return f"echo started > {tmp_path / 'long.started'}; exec sleep 45"


async def start_long_run_from_slack(
    port: int, slack_api: SlackApi, tmp_path: Path, trigger_id: str
) -> None:
    """Alice sends `/opsdesk run long` over signed HTTP to an opsdesk that serves;
    returns once the job runs."""
    os.mkfifo(tmp_path / "long.started")
    async with aiohttp.ClientSession() as http:
        body = (
            "command=%2Fopsdesk&text=run+long&user_id=U0ALICE&user_name=alice"
            f"&channel_id=C0OPS&team_id=T0001&trigger_id={trigger_id}"
            f"&response_url={slack_api.response_url('run-long')}"
        )
        async with http.post(
            f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=sign(body)
        ) as response:
            assert response.status == 200
    assert await asyncio.to_thread(fifo_line, tmp_path / "long.started") == "started"


async def test_sigterm_during_a_chat_started_run_interrupts_it_and_tells_the_requester(
    tmp_path: Path, slack_api: SlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(
        jobs=[JobConfig(name="long", command=long_job_command(tmp_path))],
        scheduler=SchedulerConfig(shutdown_grace=f"{GRACE_S:g}s"),
        access=AccessConfig(admins=["slack:U0ALICE"]),
        slack=SlackConfig(enabled=True, mode="http", http_port=0),
    )
    monkeypatch.setenv("SLACK_API_URL", slack_api.base_url + "api/")
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    settings = settings_for(tmp_path, config, env)
    stop = asyncio.Event()
    with (
        watching("bot.runtime", logging.INFO) as log,
        watching("bot.slack.adapter", logging.INFO) as slack_log,
    ):
        running = asyncio.create_task(run_forever(settings, stop=stop))
        await log.logged(" started: ")
        port = port_in((await slack_log.logged(SERVING)).getMessage(), SERVING)
        assert port is not None
    await start_long_run_from_slack(port, slack_api, tmp_path, "run.long.1")
    stop.set()  # what SIGTERM does
    assert await asyncio.wait_for(running, timeout=HANG_GUARD_S) == 0
    [run] = runs_of(settings.database_url, "long")
    assert run.status == "interrupted"
    assert run.error == "stopped: opsdesk was shutting down"  # told after the grace
    [answer] = slack_api.ok_calls("response")
    assert "interrupted" in json.dumps(answer.args)


async def test_sigterm_during_a_429_wait_hands_the_post_back_to_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with TelegramApi() as api:
        config = Config(telegram=TelegramConfig(enabled=True))
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", api.base_url)
        settings = settings_for(tmp_path, config, {"TELEGRAM_BOT_TOKEN": TOKEN})
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        [post_id] = enqueue(
            engine, kind="digest", targets=["telegram:42"], reply=Reply.text("hi"), dedupe_key="d1"
        )
        api.flood_once["sendMessage"] = 30  # the rate limiter waits this out in place
        stop = asyncio.Event()
        running = asyncio.create_task(run_forever(settings, stop=stop, shutdown_grace=GRACE_S))
        await api.wait_for(lambda: api.called("sendMessage", ok_only=False), timeout=10)
        # Claimed before it was sent: the rate limiter now waits the 30 s out in place.
        with Session(engine) as session:
            claimed = session.get(OutboxPost, post_id)
            assert claimed is not None and claimed.status == "sending"
        stop.set()
        assert await asyncio.wait_for(running, timeout=20) == 0
        with Session(engine) as session:
            row = session.get(OutboxPost, post_id)
            assert row is not None
            assert (row.status, row.claimed_by) == ("pending", None)
            # Cut off mid-send it may have landed: the next attempt reconciles first.
            assert row.uncertain_at is not None
        # The next start sends it at once, not after the 5-minute stale claim.
        stop = asyncio.Event()
        running = asyncio.create_task(run_forever(settings, stop=stop, shutdown_grace=GRACE_S))
        await api.wait_for(lambda: api.called("sendMessage"), timeout=10)
        stop.set()
        await asyncio.wait_for(running, timeout=20)
        engine.dispose()


async def test_sigterm_to_opsdesk_run_interrupts_a_chat_started_run_and_tells_the_requester(
    tmp_path: Path, slack_api: SlackApi
) -> None:
    """The real process and the real signal: `opsdesk run` in a subprocess."""
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f"""
data_dir = "{tmp_path / "data"}"

[[jobs]]
name = "long"
command = "{long_job_command(tmp_path)}"

[scheduler]
shutdown_grace = "1s"

[operator]
listen = "127.0.0.1:0"   # any free port: tests run side by side

[access]
admins = ["slack:U0ALICE"]

[slack]
enabled = true
mode = "http"
http_port = 0   # the port it got is in its log
"""
    )
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.base_url + "api/",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), "run",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    database_url = f"sqlite:///{tmp_path / 'data' / 'opsdesk.db'}"
    assert process.stderr is not None
    try:
        head = ""
        # The start line (opsdesk serves) and Slack's (the port it got), in either order.
        while " started: " not in head or port_in(head, SERVING) is None:
            line = await asyncio.wait_for(process.stderr.readline(), timeout=HANG_GUARD_S)
            assert line, head
            head += line.decode()
        port = port_in(head, SERVING)
        assert port is not None
        await start_long_run_from_slack(port, slack_api, tmp_path, "run.long.2")
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=HANG_GUARD_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    [run] = runs_of(database_url, "long")
    assert run.status == "interrupted"
    [answer] = slack_api.ok_calls("response")
    assert "interrupted" in json.dumps(answer.args)
