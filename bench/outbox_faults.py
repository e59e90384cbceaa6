"""The outbox under faults: 200 posts to a local chat API stand-in (real HTTP on
127.0.0.1) that answers slowly, fails, hangs and delivers late, while the sender
process is killed (kill -9) 10 times and restarted. Prints posts lost (target 0)
and posts sent twice (target 0 on Slack; on Telegram, which cannot be read back,
the measured at-least-once figure).

    .venv/bin/python bench/outbox_faults.py                      # slack and telegram
    .venv/bin/python bench/outbox_faults.py --platform telegram --seed 7
    OPSDESK_TEST_POSTGRES_URL=postgresql://… .venv/bin/python bench/outbox_faults.py --postgres

The stand-ins are the tests' own (tests/standins/slack_api.py,
tests/standins/telegram_api.py). Faults per send, drawn from a seeded generator:
ok 55%, slow 20% (0.3 s), fail 10% (HTTP 500), hang 10% (no answer for 2 s; the
client gives up after 1 s), late 5% (no answer, but accepted 1.5 s later). The
sender settles uncertain sends for 3 s (production: 2 min) before it reconciles or
resends them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlmodel import Session, col, select

from jobs.core.processes import this_runner
from jobs.core.reply import Reply
from jobs.outbox.delivery import Deliverer, OutboxSender, enqueue
from storage import migrate
from storage.db import make_engine
from storage.models import OutboxPost

POSTS = 200
KILLS = 10
CLIENT_TIMEOUT_S = 1.0
SETTLE_S = 3.0
FAULT_WEIGHTS = {None: 55, "slow": 20, "fail": 10, "hang": 10, "late": 5}
TELEGRAM_CHAT = 4242
SLACK_CHANNEL = "C0BENCH"
TOKEN_SLACK = "xoxb-bench"  # noqa: S105  (the stand-in takes any token)


# -- the sender process ---------------------------------------------------------------


async def _deliverer(platform: str, base_url: str) -> tuple[Deliverer, Any]:
    if platform == "slack":
        from bot.slack import web_client
        from bot.slack.deliver import SlackDeliverer

        client = web_client(TOKEN_SLACK, base_url + "api/", retry_rate_limits=False)
        client.timeout = CLIENT_TIMEOUT_S  # type: ignore[assignment]
        return SlackDeliverer(client), None
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.telegram.deliver import TelegramDeliverer
    from tests.standins.telegram_api import TOKEN

    request = HTTPXRequest(
        connect_timeout=CLIENT_TIMEOUT_S, read_timeout=CLIENT_TIMEOUT_S,
        write_timeout=CLIENT_TIMEOUT_S, pool_timeout=CLIENT_TIMEOUT_S,
    )  # fmt: skip
    bot = Bot(TOKEN, base_url=f"{base_url}/bot", request=request)
    await bot.initialize()
    return TelegramDeliverer(bot), bot


async def run_sender(platform: str, base_url: str, database_url: str) -> None:
    """What `opsdesk run` does for the outbox, until killed."""
    engine = make_engine(database_url)
    deliverer, _bot = await _deliverer(platform, base_url)
    sender = OutboxSender(
        engine, {platform: deliverer}, worker_id=this_runner(), max_attempts=100,
        base_delay=0.2, settle=timedelta(seconds=SETTLE_S),
    )  # fmt: skip
    await sender.run(asyncio.Event(), poll_interval=0.05)


# -- the bench ------------------------------------------------------------------------


class FakeServer:
    """The platform stand-in on its own event loop in a thread."""

    def __init__(self, platform: str, seed: int) -> None:
        rng = random.Random(seed)
        faults, weights = zip(*FAULT_WEIGHTS.items(), strict=True)
        self.faults_drawn: collections.Counter[str] = collections.Counter()

        def pick() -> str | None:
            fault = rng.choices(faults, weights)[0]
            self.faults_drawn[fault or "ok"] += 1
            return fault

        if platform == "slack":
            from tests.standins.slack_api import SlackApi

            self.fake: Any = SlackApi(fault_for_post=pick, hang_s=2.0, late_s=1.5)
        else:
            from tests.standins.telegram_api import TelegramApi

            self.fake = TelegramApi(fault_for_send=pick, hang_s=2.0, late_s=1.5)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.fake.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait(10)

    def delivered(self, platform: str) -> collections.Counter[str]:
        """How many times each bench post's text reached the chat."""
        if platform == "slack":
            texts = [m.text for m in list(self.fake.messages)]
        else:
            texts = [m.get("text", "") for m in list(self.fake.messages.values())]
        return collections.Counter(t.split("bench post ")[1].split()[0] for t in texts
                                   if "bench post " in t)  # fmt: skip

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def bench(platform: str, database_url: str, seed: int) -> dict[str, Any]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    target = f"slack:{SLACK_CHANNEL}" if platform == "slack" else f"telegram:{TELEGRAM_CHAT}"
    for n in range(POSTS):
        reply = Reply.text(f"bench post {n} of {POSTS}")
        enqueue(engine, kind="job", targets=[target], reply=reply, dedupe_key=f"bench:{n}")
    server = FakeServer(platform, seed)
    rng = random.Random(seed + 1)
    command = [sys.executable, __file__, "--sender", platform, server.fake.base_url, database_url]
    started = time.monotonic()
    for _ in range(KILLS):
        sender = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.5, 4.0))  # a start takes ~1 s
        sender.send_signal(signal.SIGKILL)
        sender.wait()
    sender = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with Session(engine) as session:
            open_posts = session.exec(
                select(OutboxPost.id).where(col(OutboxPost.status).in_(["pending", "sending"]))
            ).all()
        if not open_posts:
            break
        time.sleep(0.2)
    time.sleep(SETTLE_S)  # late deliveries still in flight land before counting
    sender.send_signal(signal.SIGTERM)
    sender.wait(10)
    elapsed = time.monotonic() - started
    counts = server.delivered(platform)
    server.stop()
    with Session(engine) as session:
        statuses = collections.Counter(session.exec(select(OutboxPost.status)).all())
        sent_marked = statuses.get("sent", 0)
    engine.dispose()
    return {
        "platform": platform,
        "posts": POSTS,
        "kills": KILLS,
        "lost": sum(1 for n in range(POSTS) if counts[str(n)] == 0),
        "sent_twice": sum(1 for n in range(POSTS) if counts[str(n)] > 1),
        "extra_messages": sum(max(0, counts[str(n)] - 1) for n in range(POSTS)),
        "outbox": dict(statuses),
        "marked_sent": sent_marked,
        "faults": dict(server.faults_drawn),
        "seconds": round(elapsed, 1),
    }


def _database(postgres: bool, tmp: Path) -> tuple[str, Any]:
    if not postgres:
        return f"sqlite:///{tmp / 'outbox.db'}", None
    base = os.environ["OPSDESK_TEST_POSTGRES_URL"]
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    separator = "&" if "?" in base else "?"

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))

    return f"{base}{separator}options=-csearch_path%3D{name}", drop


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--sender":
        if os.environ.get("BENCH_VERBOSE"):
            import logging

            logging.basicConfig(level=logging.INFO)
        asyncio.run(run_sender(*sys.argv[2:5]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=["slack", "telegram", "both"], default="both")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--postgres", action="store_true", help="OPSDESK_TEST_POSTGRES_URL")
    args = parser.parse_args()
    platforms = ["slack", "telegram"] if args.platform == "both" else [args.platform]
    print(f"{POSTS} posts, sender killed (SIGKILL) {KILLS} times, seed {args.seed}, "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}")  # fmt: skip
    for platform in platforms:
        with tempfile.TemporaryDirectory() as tmp:
            url, drop = _database(args.postgres, Path(tmp))
            try:
                result = bench(platform, url, args.seed)
            finally:
                if drop:
                    drop()
        print(
            f"{platform:9s} lost {result['lost']} (target 0)  sent twice {result['sent_twice']}"
            f" ({result['extra_messages']} extra messages)  outbox {result['outbox']}"
            f"  faults {result['faults']}  {result['seconds']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
