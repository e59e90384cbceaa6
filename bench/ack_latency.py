"""Slack acknowledgement latency under load: ack first, always.

    .venv/bin/python bench/ack_latency.py [--slow 10] [--quick 50] [--slow-seconds 4]
                                          [--rounds 3]

A real bolt app behind opsdesk's Slack adapter (HTTP mode, in its own process as in
production) is driven with signed requests over 127.0.0.1 from this process; the
local Slack Web API stand-in (tests/standins/slack_api.py) receives the answers in a
third process.
First --slow `/opsdesk run slow` commands (a job that sleeps
--slow-seconds) are sent and left in flight; then --quick quick commands (health,
jobs, help, findings) are fired at once. Prints ack p50/p99/max for both kinds, how
many commands got no ack within Slack's 3 s, and the time from sending a quick
command to its final reply. Exits 1 when quick ack p99 > 50 ms or any ack is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from bot.runtime import keep_start_up_out_of_collections
from bot.slack import build_app, web_client
from bot.slack.adapter import SlackAdapter
from bot.slack.deliver import SlackDeliverer
from handlers.catalog import build_router
from jobs.config.schema import AccessConfig, Config, JobConfig
from jobs.context import Context
from storage import migrate
from storage.db import make_engine
from tests.standins.slack_api import SlackApi

SECRET = "bench-signing-secret"  # noqa: S105 - signs the bench's own requests
CHANNEL = "C0BENCH"
ADMIN = "U0ADMIN"
SLACK_ACK_LIMIT_S = 3.0
TARGET_P99_MS = 50.0
QUICK_COMMANDS = ["health", "jobs", "help", "findings nosuch"]


def signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def command(fake: SlackStandIn, text: str, trigger: str) -> str:
    return urlencode(
        {
            "team_id": "T0001",
            "channel_id": CHANNEL,
            "user_id": ADMIN,
            "user_name": "bench",
            "command": "/opsdesk",
            "text": text,
            "api_app_id": "A0001",
            "response_url": fake.response_url(trigger),
            "trigger_id": trigger,
        }
    )


async def send(http: aiohttp.ClientSession, url: str, body: str) -> tuple[float, float, bool]:
    """(sent at, ack seconds, acked in time)."""
    started = time.monotonic()
    try:
        async with http.post(url, data=body.encode(), headers=signed(body)) as response:
            await response.read()
            ok = response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        ok = False
    took = time.monotonic() - started
    return started, took, ok and took <= SLACK_ACK_LIMIT_S


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name:<28} p50 {statistics.median(ms):7.1f} ms   p99 {pct(ms, 0.99):7.1f} ms   "
        f"max {max(ms):7.1f} ms   (n={len(ms)})"
    )


async def serve(slack_api_url: str, slow_seconds: float) -> None:
    """The opsdesk side, in its own process as in production: the adapter in HTTP
    mode on a free port (printed on stdout), until stdin closes."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate.upgrade(engine)
        config = Config(
            jobs=[JobConfig(name="slow", command=f"sleep {slow_seconds:g}")],
            access=AccessConfig(chats=[f"slack:{CHANNEL}"], admins=[f"slack:{ADMIN}"]),
        )
        context = Context(config=config, engine=engine, data_dir=Path(tmp), config_source="bench")
        app = build_app(
            build_router(context),
            web_client("xoxb-bench", slack_api_url, retry_rate_limits=True),
            signing_secret=SECRET,
        )
        deliverer = SlackDeliverer(web_client("xoxb-bench", slack_api_url, retry_rate_limits=False))
        adapter = SlackAdapter(app, deliverer, mode="http", http_host="127.0.0.1", http_port=0)
        await adapter.start()
        keep_start_up_out_of_collections()  # as `opsdesk run` does once started
        print(adapter.bound_port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await adapter.stop()
        engine.dispose()


async def drive(slow: int, quick: int, slow_seconds: float, rounds: int) -> int:
    """Slack's side: the Web API stand-in receiving answers, and the load, `rounds`
    times against a fresh opsdesk process each; the figures pool every round."""
    # The measuring side must not pause itself: a full collection of this process's
    # start-up heap during a burst (about 70 ms) would be counted as opsdesk's.
    gc.collect()
    gc.freeze()
    results = [await one_round(slow, quick, slow_seconds, n) for n in range(rounds)]
    slow_acks = [a for r in results for a in r[0]]
    quick_s = [a for r in results for a in r[1]]
    replies = [a for r in results for a in r[2]]
    unacked = sum(r[3] for r in results)
    missing_replies = sum(r[4] for r in results)
    load = os.getloadavg()[0]
    print(
        f"{slow} slow commands in flight (`run slow`, {slow_seconds:g} s), {quick} quick at "
        f"once; {rounds} round(s); load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    if slow_acks:
        print(line("ack, slow commands", slow_acks))
    print(line("ack, quick commands", quick_s))
    if replies:
        print(line("quick: send -> final reply", replies))
    print(
        f"commands without an ack within 3 s: {unacked}; quick without a reply: {missing_replies}"
    )
    p99_ms = pct(quick_s, 0.99) * 1000
    verdict = "ok" if p99_ms <= TARGET_P99_MS and unacked == 0 else "MISSED"
    print(f"target: quick ack p99 <= {TARGET_P99_MS:g} ms and every command acked: {verdict}")
    return 0 if verdict == "ok" and missing_replies == 0 else 1


class SlackStandIn:
    """The Web API stand-in in a third process: real Slack is neither the machine that
    sends the commands nor opsdesk's, and its answers must not slow either clock."""

    def __init__(self, process: asyncio.subprocess.Process, base_url: str) -> None:
        self.process = process
        self.base_url = base_url

    @classmethod
    async def start(cls) -> SlackStandIn:
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--fake-slack",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        return cls(process, (await process.stdout.readline()).decode().strip())

    def response_url(self, name: str) -> str:
        return f"{self.base_url}response/{name}"

    async def responses(self) -> dict[str, float]:
        """Response URL name → when its answer arrived (time.monotonic, machine-wide)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(b"dump\n")
        await self.process.stdin.drain()
        return dict(json.loads(await self.process.stdout.readline()))

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        await self.process.wait()


async def fake_slack_process() -> None:
    """--fake-slack: serve SlackApi; each stdin line asks for the answers so far."""
    fake = SlackApi()
    await fake.start()
    print(fake.base_url, flush=True)
    loop = asyncio.get_running_loop()
    while await loop.run_in_executor(None, sys.stdin.readline):
        seen = [[c.args.get("_url"), c.at] for c in fake.ok_calls("response")]
        print(json.dumps(seen), flush=True)
    await fake.stop()


async def one_round(
    slow: int, quick: int, slow_seconds: float, number: int
) -> tuple[list[float], list[float], list[float], int, int]:
    """One opsdesk process under load: (slow acks, quick acks, quick replies, commands
    without an ack, quick commands without a reply), in seconds."""
    fake = await SlackStandIn.start()
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", fake.base_url + "api/",
        "--slow-seconds", str(slow_seconds),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert server.stdout is not None and server.stdin is not None
    port = int((await server.stdout.readline()).decode().strip())
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            # Warm up: bolt's first request calls auth.test once.
            await send(http, url, command(fake, "help", "warm-up"))
            slow_acks = await asyncio.gather(
                *(send(http, url, command(fake, "run slow", f"slow-{i}")) for i in range(slow))
            )
            await asyncio.sleep(0.2)  # the slow ones are running or queued
            triggers = [f"quick-{i}" for i in range(quick)]
            texts = [QUICK_COMMANDS[i % len(QUICK_COMMANDS)] for i in range(quick)]
            quick_acks = await asyncio.gather(
                *(
                    send(http, url, command(fake, t, g))
                    for t, g in zip(texts, triggers, strict=True)
                )
            )
            # help answers inside its ack; the others through their response URLs.
            wanted = {g for t, g in zip(texts, triggers, strict=True) if t != "help"}
            slow_wanted = {f"slow-{i}" for i in range(slow)}
            deadline = time.monotonic() + 60 + slow_seconds * slow
            answered = await fake.responses()
            while not (wanted | slow_wanted) <= set(answered) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                answered = await fake.responses()
            replies = [
                (answered[g] - sent) if g in wanted else ack
                for (sent, ack, _), g in zip(quick_acks, triggers, strict=True)
                if g in answered or g not in wanted
            ]
            missing_replies = quick - len(replies)
    finally:
        server.stdin.close()
        await server.wait()
        await fake.stop()
    quick_s = [a for _, a, _ in quick_acks]
    unacked = sum(not ok for _, _, ok in [*slow_acks, *quick_acks])
    print(f"round {number + 1}: quick ack p99 {pct(quick_s, 0.99) * 1000:.1f} ms", flush=True)
    return [a for _, a, _ in slow_acks], quick_s, replies, unacked, missing_replies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=10)
    parser.add_argument("--quick", type=int, default=50)
    parser.add_argument("--slow-seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", metavar="SLACK_API_URL", help=argparse.SUPPRESS)
    parser.add_argument("--fake-slack", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake_slack:
        asyncio.run(fake_slack_process())
        return 0
    if args.serve:
        asyncio.run(serve(args.serve, args.slow_seconds))
        return 0
    return asyncio.run(drive(args.slow, args.quick, args.slow_seconds, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
