"""Faults from outside opsdesk, against two real `opsdesk run` replicas on PostgreSQL:
the database's connections dropped (pg_terminate_backend) and the whole server cut
and back (a proxy between each replica and PostgreSQL refuses and resets every
connection for a few seconds: a restart, as the replicas see it), 10 times in all,
during a 429 storm from Slack and Telegram (Retry-After: 1 on every post for the
storm's length).

    OPSDESK_TEST_POSTGRES_URL=postgresql://… .venv/bin/python bench/faults.py
    … bench/faults.py --faults 10 --storm 120 --gap 15

A job runs every minute (cron), another every 2 s; both post to Slack and Telegram.
Prints, over the minutes of the bench: runs lost (a minute with no row at all), runs
doubled (a minute run twice), minutes recorded `missed` (with their reason), posts
lost (a run whose post never reached Slack), posts doubled (one post twice in the
channel), the same for Telegram (found by the line each run prints: Telegram cannot
be read back, so its posts are at least once and the doubles are measured), and the
longest time no replica held the scheduler lock. Slack and Telegram are the tests'
stand-ins (tests/standins/) on 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.engine import Engine

from jobs.runs import records as runs
from storage import migrate
from storage.db import make_engine
from storage.leadership import LOCK_KEY
from storage.models import utcnow
from tests.standins.slack_api import SlackApi
from tests.standins.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.standins.telegram_api import TelegramApi
from tests.support.cli import TOKENS
from tests.support.databases import fresh_schema_url
from tests.support.processes import OpsdeskProcess
from tests.support.tcp_proxy import TcpProxy, tcp_proxy_for

CHANNEL = "C0FAULTS"
TELEGRAM_CHAT = 4242
# Each run prints a line no other run prints, to find its post in Telegram's chat.
MARKER = "echo faults-run-$(date +%s%N)"
APPLICATION = "opsdesk-faults"
LOCK_HOLDER = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND objsubid = 2 AND classid::bigint = :key"
    " AND objid::bigint = (hashtext(current_schema())::bigint & 4294967295)"
)
DROP_BACKENDS = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE application_name = :name AND pid <> pg_backend_pid()"
)


class Served:
    """A stand-in on its own event loop in a thread."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.fake.start())
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(30)

    def call_in_loop(self, change: Any) -> None:
        self.loop.call_soon_threadsafe(change)


class Slack(Served):
    def __init__(self) -> None:
        super().__init__(SlackApi())

    def storm(self, on: bool) -> None:
        def switch() -> None:
            if on:
                self.fake.rate_limit("chat.postMessage", retry_after=1, times=10**7)
            else:
                self.fake._rate_limited.pop("chat.postMessage", None)

        self.call_in_loop(switch)

    def outbox_ids(self) -> collections.Counter[int]:
        """How often each outbox post is in the channel (its metadata names it)."""
        found: collections.Counter[int] = collections.Counter()
        for message in list(self.fake.posts_of(CHANNEL)):
            payload = (message.metadata or {}).get("event_payload") or {}
            if isinstance(payload.get("outbox_id"), int):
                found[payload["outbox_id"]] += 1
        return found

    def rate_limited(self) -> int:
        return sum(1 for call in list(self.fake.calls) if call.status == 429)


class Telegram(Served):
    """Telegram cannot be read back, so a post there is sent at least once: each run
    prints a line of its own, and the chat is searched for it."""

    def __init__(self) -> None:
        super().__init__(TelegramApi())

    def storm(self, on: bool) -> None:
        flooding = self.fake.flooding
        self.call_in_loop((lambda: flooding.update(sendMessage=1)) if on else flooding.clear)

    def texts(self) -> list[str]:
        return [m.get("text", "") for m in list(self.fake.messages.values())]

    def rate_limited(self) -> int:
        return sum(1 for call in list(self.fake.calls) if call.status == 429)


class LeaderWatch:
    """Who holds the scheduler lock, looked at every 0.2 s: the longest stretch when
    nobody did."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.longest = 0.0
        self._since: float | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            try:
                with self.engine.connect() as connection:
                    held = bool(connection.execute(LOCK_HOLDER, {"key": LOCK_KEY}).scalar())
            except Exception:  # noqa: S112  (a look that failed is no sample)
                continue
            now = time.monotonic()
            if held:
                if self._since is not None:
                    self.longest = max(self.longest, now - self._since)
                self._since = None
            elif self._since is None:
                self._since = now

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)


def replica_config(directory: Path, name: str, url: str) -> Path:
    config = directory / f"{name}.toml"
    config.write_text(
        f'database_url = "{url}"\n'
        f'data_dir = "{directory / name}"\n'
        "[operator]\nenabled = false\n"
        '[scheduler]\nheartbeat = "2s"\nshutdown_grace = "2s"\n'
        "[slack]\nenabled = true\n[telegram]\nenabled = true\n"
        f'[[jobs]]\nname = "minutely"\ncommand = "{MARKER}"\nschedule = "* * * * *"\n'
        f'post_to = ["slack:{CHANNEL}", "telegram:{TELEGRAM_CHAT}"]\n'
        f'[[jobs]]\nname = "tick"\ncommand = "{MARKER}"\nschedule = "every 2s"\n'
        f'post_to = ["slack:{CHANNEL}", "telegram:{TELEGRAM_CHAT}"]\n'
    )
    return config


def with_application(url: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}application_name={APPLICATION}"


def fault(number: int, admin: Engine, proxies: list[TcpProxy], outage_s: float) -> str:
    """Odd: every opsdesk connection terminated; even: the server cut and back."""
    if number % 2:
        with admin.begin() as connection:
            dropped = connection.execute(DROP_BACKENDS, {"name": APPLICATION}).scalar()
        return f"{dropped} backends terminated"
    for proxy in proxies:
        proxy.cut()
    time.sleep(outage_s)
    for proxy in proxies:
        proxy.restore()
    return f"server cut for {outage_s:g} s"


def minutes_between(start: datetime, end: datetime) -> list[datetime]:
    first = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    found = []
    while first <= end:
        found.append(first)
        first += timedelta(minutes=1)
    return found


def on_telegram(posted: list[Any], telegram: Telegram) -> tuple[int, int]:
    """(posts lost, posts sent more than once) in Telegram's chat: each run's post is
    the one with its own printed line."""
    texts = telegram.texts()
    seen = [sum(1 for t in texts if (row.output or "").strip() in t) for row in posted]
    return sum(1 for n in seen if n == 0), sum(n - 1 for n in seen if n > 1)


def measure(
    engine: Engine, slack: Slack, telegram: Telegram, start: datetime, end: datetime
) -> dict[str, Any]:
    rows = runs.runs_of(engine)
    minutely = [row for row in rows if row.job == "minutely" and row.scheduled_at is not None]
    by_minute: dict[datetime, list[Any]] = collections.defaultdict(list)
    for row in minutely:
        assert row.scheduled_at is not None
        by_minute[row.scheduled_at.replace(second=0, microsecond=0)].append(row)
    minutes = minutes_between(start, end)
    ran = [row for row in minutely if row.status != "missed"]
    with engine.connect() as connection:
        posts = dict(
            connection.execute(
                text("SELECT dedupe_key, id FROM outbox WHERE target = :target"),
                {"target": f"slack:{CHANNEL}"},
            ).all()
        )
    in_channel = slack.outbox_ids()
    ticks = sorted((row for row in rows if row.job == "tick"), key=lambda row: row.started_at)
    posted = [row for row in [*ran, *ticks] if row.status == "ok"]
    post_ids = [posts.get(f"run:{row.id}|slack:{CHANNEL}") for row in posted]
    tick_doubled = sum(
        1
        for before, after in itertools.pairwise(ticks)
        if before.runner != after.runner
        and (after.started_at - before.started_at).total_seconds() < 1.0
    )
    # The exact figure: one fire (its scheduled time) finished more than once.
    tick_fires = collections.Counter(
        row.scheduled_at for row in ticks if row.status in ("ok", "failed")
    )
    tick_fire_twice = sum(1 for times in tick_fires.values() if times > 1)
    return {
        "minutes": len(minutes),
        "runs_lost": sum(1 for minute in minutes if not by_minute.get(minute)),
        "runs_doubled": sum(
            1
            for minute in minutes
            if len([r for r in by_minute.get(minute, []) if r.status != "missed"]) > 1
        ),
        "missed": [(row.scheduled_at, row.error) for row in minutely if row.status == "missed"],
        "posts": len(post_ids),
        "posts_lost": sum(1 for post_id in post_ids if post_id is None or not in_channel[post_id]),
        "posts_doubled": sum(count - 1 for count in in_channel.values() if count > 1),
        "telegram": on_telegram([row for row in posted if row.output], telegram),
        "tick_doubled": tick_doubled,
        "tick_fire_twice": tick_fire_twice,
        "left_running": sum(1 for row in rows if row.status == "running"),
    }


def bench(server_url: str, faults: int, storm_s: float, gap_s: float, outage_s: float) -> None:
    slack, telegram = Slack(), Telegram()
    with tempfile.TemporaryDirectory() as scratch, fresh_schema_url(server_url) as url:
        directory = Path(scratch)
        engine = make_engine(url)
        migrate.upgrade(engine)
        admin = make_engine(server_url)
        env = {
            "SLACK_BOT_TOKEN": TOKENS["SLACK_BOT_TOKEN"],
            "SLACK_APP_TOKEN": TOKENS["SLACK_APP_TOKEN"],
            "SLACK_API_URL": slack.fake.base_url + "api/",
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_BASE_URL": telegram.fake.base_url,
        }
        with tcp_proxy_for(url) as first_proxy, tcp_proxy_for(url) as second_proxy:
            proxies = [first_proxy, second_proxy]
            configs = [
                replica_config(directory, name, with_application(proxy.url_for(url)))
                for name, proxy in zip(("a", "b"), proxies, strict=True)
            ]
            replicas = [OpsdeskProcess(config, env) for config in configs]
            try:
                for replica in replicas:
                    replica.wait_for(" started: ", timeout=120)
                start = utcnow()
                began = time.monotonic()
                watch = LeaderWatch(engine)
                slack.storm(True)
                telegram.storm(True)
                print(f"storm on for {storm_s:g} s; {faults} faults, one every {gap_s:g} s")
                storm_ends = began + storm_s
                for number in range(1, faults + 1):
                    said = fault(number, admin, proxies, outage_s)
                    print(f"  fault {number:2d} at {time.monotonic() - began:5.0f} s: {said}")
                    if time.monotonic() > storm_ends:
                        slack.storm(False)
                        telegram.storm(False)
                    time.sleep(gap_s)
                remaining = storm_ends - time.monotonic()
                if remaining > 0:
                    time.sleep(remaining)
                slack.storm(False)
                telegram.storm(False)
                print(f"storm off at {time.monotonic() - began:.0f} s; waiting for the posts")
                end = utcnow()
                # Settle: the minute in progress, then every waiting post sent.
                deadline = time.monotonic() + 420  # a claim lost to a fault: 5 min stale
                while time.monotonic() < deadline:
                    with engine.connect() as connection:
                        waiting = connection.execute(
                            text(
                                "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
                            )
                        ).scalar()
                    if not waiting and utcnow() > end + timedelta(seconds=75):
                        break
                    time.sleep(1)
                watch.stop()
                end = utcnow() - timedelta(seconds=15)
            finally:
                for replica in replicas:
                    replica.stop(60)
        result = measure(engine, slack, telegram, start, end)
        engine.dispose()
        admin.dispose()
    print(f"minutes measured      {result['minutes']}")
    print(f"runs lost             {result['runs_lost']} (target 0)")
    print(f"runs doubled          {result['runs_doubled']} (target 0)")
    print(f"runs recorded missed  {len(result['missed'])}")
    for at, why in result["missed"]:
        print(f"    {at:%H:%M}  {why}")
    print(f"posts made            {result['posts']} (one per run, both jobs)")
    print(f"posts lost            {result['posts_lost']} (target 0)")
    print(f"posts doubled         {result['posts_doubled']} (target 0)")
    print(f"429 answers           {slack.rate_limited()}")
    lost, twice = result["telegram"]
    print(f"Telegram posts lost   {lost} (target 0)")
    print(f"Telegram sent twice   {twice} (at least once: measured)")
    print(f"Telegram 429 answers  {telegram.rate_limited()}")
    print(f"2 s job, two replicas within 1 s {result['tick_doubled']}")
    print(f"2 s job, a fire run twice {result['tick_fire_twice']} (target 0)")
    print(f"runs left running     {result['left_running']}")
    print(f"longest with no leader {watch.longest:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", type=int, default=10)
    parser.add_argument("--storm", type=float, default=120.0, help="seconds of 429s")
    parser.add_argument("--gap", type=float, default=15.0, help="seconds between faults")
    parser.add_argument("--outage", type=float, default=4.0, help="seconds a cut lasts")
    args = parser.parse_args()
    server_url = os.environ.get("OPSDESK_TEST_POSTGRES_URL")
    if not server_url:
        print("set OPSDESK_TEST_POSTGRES_URL to a PostgreSQL server on this machine")
        return 2
    bench(server_url, args.faults, args.storm, args.gap, args.outage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
