"""Telegram's webhook mode against strangers, on the real `opsdesk run`. Before, the
webhook server (tornado, inside python-telegram-bot) read each request's whole body,
up to 100 MB, before checking its secret token: six unsigned 90 MB requests at once
took the process from 90 MB to 710 MB resident, each refusal was a log line, and a
connection that sent half a request head was kept for an hour."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import aiohttp

from bot.telegram.adapter import WEBHOOK_HEAD_TIMEOUT_S
from tests.standins.telegram_api import TOKEN, TelegramApi
from tests.support.cli import opsdesk_running

SECRET = "s3cret-Token_1"
HUGE = 90 * 1024 * 1024
AT_ONCE = 6
UPDATE = {
    "update_id": 2,
    "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "hi"},
}
MAX_GROWTH_MB = 40  # the peak grows by well under 1 MB; one body held would be 90
LISTENING = "telegram: webhook listening on"  # HOST:PORT follows


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far, as the kernel keeps it."""
    status = Path(f"/proc/{pid}/status").read_text()
    [line] = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


async def test_strangers_bodies_are_refused_unread_and_unlogged(
    tmp_path: Path, telegram_api: TelegramApi
) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        "[scheduler]\nenabled = false\n[operator]\nenabled = false\n"
        '[telegram]\nenabled = true\nmode = "webhook"\n'
        'webhook_url = "https://bot.example.org/tg/hook"\nwebhook_port = 0\n'
    )
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": telegram_api.base_url,
    }
    statuses: dict[str, list[int]] = {}
    peaks: list[float] = []
    held_s: list[float] = []
    loop = asyncio.get_running_loop()

    def serve() -> list[str]:
        with opsdesk_running(config, env=env) as running:
            port = running.logged_port(LISTENING)
            webhook_set = telegram_api.wait_for(lambda: telegram_api.called("setWebhook"))
            asyncio.run_coroutine_threadsafe(webhook_set, loop).result(timeout=60)
            peaks.append(peak_rss_mb(running.process.pid))
            with socket.create_connection(("127.0.0.1", port), timeout=60) as idle:
                idle.sendall(b"POST /tg/hook HTTP/1.1\r\nHost: x\r\n")  # and no more
                opened = time.monotonic()
                sent = send(f"http://127.0.0.1:{port}/tg/hook")
                asyncio.run_coroutine_threadsafe(sent, loop).result(timeout=300)
                peaks.append(peak_rss_mb(running.process.pid))
                closed_by_server = idle.recv(1) == b""  # waits for the server to hang up
                held_s.append(time.monotonic() - opened)
        assert closed_by_server
        return running.log

    async def send(url: str) -> None:
        async with aiohttp.ClientSession() as http:

            async def post(body: bytes, secret: str) -> int:
                headers = {"Content-Type": "application/json",
                           "X-Telegram-Bot-Api-Secret-Token": secret}  # fmt: skip
                async with http.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    return answer.status

            huge = b"x" * HUGE
            statuses["huge"] = list(
                await asyncio.gather(*(post(huge, "no") for _ in range(AT_ONCE)))
            )
            statuses["unsigned"] = [await post(b'{"update_id": 1}', "no")]
            statuses["signed"] = [await post(json.dumps(UPDATE).encode(), SECRET)]

    log = "".join(await asyncio.to_thread(serve))
    assert statuses == {"huge": [400] * AT_ONCE, "unsigned": [403], "signed": [200]}
    assert peaks[1] - peaks[0] < MAX_GROWTH_MB, f"peak {peaks[0]:.0f} → {peaks[1]:.0f} MB"
    assert WEBHOOK_HEAD_TIMEOUT_S - 1 <= held_s[0] < 3 * WEBHOOK_HEAD_TIMEOUT_S
    assert "xxxxxxxx" not in log and "Malformed" not in log and "tornado" not in log
