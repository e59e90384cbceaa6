"""Slack's HTTP mode against strangers, on the real `opsdesk run`: unsigned 1 MB
requests, signed requests from another workspace or app. Before, bolt logged each
unsigned request at INFO with its whole body (100 MB of log in 8.3 s from anyone,
and newlines in a body forged log lines), and a signed request from another
team_id or api_app_id was answered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from bot.slack.gate import BAD_SIGNATURE, OTHER_APP, OTHER_TEAM, RequestGate
from tests.standins.slack_api import BOT_TOKEN, SIGNING_SECRET, SlackApi, sign
from tests.support.cli import opsdesk_running

UNSIGNED = 40
FORGED_LINE = "2026-01-01 00:00:00,000 ERROR bot.runtime: forged by a stranger"


def command_body(team: str = "T0001", app: str = "A0001") -> str:
    fields = {
        "command": "/opsdesk", "text": "help", "team_id": team, "api_app_id": app,
        "user_id": "U1", "user_name": "dana", "channel_id": "C1", "trigger_id": "1.2.3",
        "response_url": "http://127.0.0.1:9/unused",
    }  # fmt: skip
    return urlencode(fields)


SERVING = "slack: serving /slack/events on"  # HOST:PORT follows


def http_mode(
    tmp_path: Path, slack_api: SlackApi, slack_keys: str = ""
) -> tuple[Path, dict[str, str]]:
    """(config file, environment) of an `opsdesk run` serving Slack's HTTP mode with
    the stand-in's Web API, on a port the system picks, with `slack_keys` added."""
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        "[scheduler]\nenabled = false\n[operator]\nenabled = false\n"
        f'[slack]\nenabled = true\nmode = "http"\nhttp_port = 0\n{slack_keys}'
    )
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.base_url + "api/",
    }
    return config, env


async def test_strangers_are_refused_counted_and_never_logged_with_their_bodies(
    tmp_path: Path, slack_api: SlackApi
) -> None:
    config, env = http_mode(tmp_path, slack_api)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    stranger = "A" * (1024 * 1024 - 200) + "\n" + FORGED_LINE + "\n"
    statuses: dict[str, list[int]] = {}

    def serve() -> list[str]:
        with opsdesk_running(config, env=env) as running:
            url = f"http://127.0.0.1:{running.logged_port(SERVING)}/slack/events"
            asyncio.run_coroutine_threadsafe(send(url), loop).result(timeout=300)
        return running.log

    async def send(url: str) -> None:
        async with aiohttp.ClientSession() as http:

            async def post(body: str, headers: dict[str, str]) -> int:
                async with http.post(url, data=body.encode(), headers=headers) as answer:
                    await answer.read()
                    return answer.status

            statuses["unsigned"] = [await post(stranger, form) for _ in range(UNSIGNED)]
            signed_elsewhere = command_body(team="T9999")
            statuses["other team"] = [
                await post(signed_elsewhere, {**form, **sign(signed_elsewhere)})
            ]
            other_app = command_body(app="A9999")
            statuses["other app"] = [await post(other_app, {**form, **sign(other_app)})]
            ours = command_body()
            statuses["ours"] = [await post(ours, {**form, **sign(ours)})]

    loop = asyncio.get_running_loop()
    log = await asyncio.to_thread(serve)
    assert statuses == {
        "unsigned": [401] * UNSIGNED, "other team": [401], "other app": [401], "ours": [200],
    }  # fmt: skip
    text = "".join(log)
    assert "AAAAAAAAAA" not in text and FORGED_LINE not in text
    assert len(text) < 20_000, f"{len(text)} bytes of log"
    refusals = [line for line in log if "bot.slack.gate" in line]
    assert len(refusals) == 1  # the first refusal; the rest are counted till the next report
    assert "1 (bad signature)" in refusals[0]


def test_refusals_are_reported_once_per_interval_with_their_counts() -> None:
    now = [0.0]
    gate = RequestGate(SIGNING_SECRET, team_id="T0001", app_id="A0001", clock=lambda: now[0])
    reports: list[str] = []

    class Catch:
        def warning(self, message: str, *args: object) -> None:
            reports.append(message % args)

    import bot.slack.gate as gate_module

    original, gate_module.log = gate_module.log, Catch()  # type: ignore[assignment]
    try:
        for second in range(0, 150, 5):  # a refusal every 5 s for 150 s
            now[0] = float(second)
            gate.count(BAD_SIGNATURE if second % 2 else OTHER_TEAM)
        gate.count(OTHER_APP)
    finally:
        gate_module.log = original
    assert len(reports) == 3  # at 0 s, 60 s and 120 s
    assert sum(gate.refused.values()) == 31
    assert reports[1].startswith("slack: refused 12 request(s)")
