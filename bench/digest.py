"""Time the digest, /health and the operator's /api/digest and /metrics on a
1,000,000-run history.

    .venv/bin/python bench/digest.py [--runs 1000000] [--repeat 5]

Fills 1,000,000 runs of 50 jobs over two years (and 20,000 outbox posts) into a
SQLite file in a temporary directory and, when OPSDESK_BENCH_POSTGRES_URL (or
OPSDESK_TEST_POSTGRES_URL) is set, into a fresh PostgreSQL schema that is dropped
afterwards. Then times the day and week digests, the chart and the health report
(median of --repeat runs each), and over HTTP against the real operator server on
127.0.0.1, GET /api/digest and GET /metrics. Exits 1 when the day digest,
/api/digest (day) or /metrics misses its target (200 ms) on any engine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.context import Context
from jobs.digest.job import build_digest, build_digest_with_chart
from jobs.health.checks import health_report
from storage import migrate
from storage.db import make_engine
from storage.models import Heartbeat, JobRun, OutboxPost

TARGET_DAY_MS = 200.0
JOBS = 50
REVIEW_JOBS = 10
YEARS = 2
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CHUNK = 20_000
OUTBOX_POSTS = 20_000
TARGET_HTTP_MS = 200.0


def bench_config() -> Config:
    """50 scheduled jobs: 10 repositories reviewed and 40 commands, every hour."""
    return Config.model_validate(
        {
            "repos": [
                {"name": f"repo{i}", "path": f"/srv/repo{i}", "schedule": "every 1h"}
                for i in range(REVIEW_JOBS)
            ],
            "jobs": [
                {"name": f"job{i}", "command": "true", "schedule": "every 1h"}
                for i in range(REVIEW_JOBS, JOBS)
            ],
        }
    )


def bench_context(engine: Engine) -> Context:
    """The bench's config on `engine`, the clock stopped at NOW."""
    data_dir = Path(tempfile.gettempdir())
    return Context(bench_config(), engine, data_dir, config_source="bench", clock=lambda: NOW)


def job_name(index: int) -> str:
    return f"review:repo{index}" if index < REVIEW_JOBS else f"job{index}"


def history(total: int, seed: int = 5) -> Iterator[list[dict[str, Any]]]:
    """`total` runs spread evenly over two years ending at NOW, in chunks."""
    rng = random.Random(seed)
    span = timedelta(days=365 * YEARS).total_seconds()
    start = NOW - timedelta(days=365 * YEARS)
    base_ms = [rng.randint(2_000, 120_000) for _ in range(JOBS)]
    rows: list[dict[str, Any]] = []
    for i in range(total):
        job = i % JOBS
        started = start + timedelta(seconds=span * i / total + job)
        review = job < REVIEW_JOBS
        cached = rng.random() < (0.6 if review else 0.3)
        failed = not cached and rng.random() < 0.03
        duration = 150 if cached else int(base_ms[job] * rng.lognormvariate(0, 0.15))
        llm = review and job % 2 == 0 and not cached
        rows.append(
            {
                "job": job_name(job),
                "kind": "review" if review else "command",
                "trigger": "schedule",
                "status": "cached" if cached else ("failed" if failed else "ok"),
                "scheduled_at": started,
                "started_at": started,
                "finished_at": started + timedelta(milliseconds=duration),
                "duration_ms": duration,
                "cache_hit": cached,
                "tokens_in": rng.randint(500, 4000) if llm else None,
                "tokens_out": rng.randint(100, 800) if llm else None,
                "model": "qwen2.5-coder:7b" if llm else None,
                "model_latency_ms": int(duration * 0.8) if llm else None,
                "batch_id": f"b{i // 200}" if job >= 45 else None,
            }
        )
        if len(rows) == CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows


def outbox_rows() -> Iterator[dict[str, Any]]:
    """Two years of posts: nearly all sent, some after retries, a few given up or waiting."""
    rng = random.Random(7)
    for i in range(OUTBOX_POSTS):
        roll = rng.random()
        status = "sent" if roll < 0.985 else ("failed" if roll < 0.995 else "pending")
        created = NOW - timedelta(days=730 * (1 - i / OUTBOX_POSTS))
        yield {
            "dedupe_key": f"bench:{i}",
            "kind": "review",
            "target": rng.choice(["slack:C0123456789", "telegram:-1001234567890"]),
            "reply_json": "{}",
            "status": status,
            "attempts": 1 + (rng.random() < 0.05) if status == "sent" else 5,
            "next_attempt_at": created,
            "created_at": created,
        }


def fill(engine: Engine, total: int) -> None:
    started = time.perf_counter()
    done = 0
    table = JobRun.__table__  # type: ignore[attr-defined]
    for chunk in history(total):
        with engine.begin() as connection:
            connection.execute(insert(table), chunk)
        done += len(chunk)
        if done % 100_000 == 0 or done == total:
            rate = done / (time.perf_counter() - started)
            print(f"  {done:>9,} runs ({rate:,.0f}/s)", flush=True)
    with engine.begin() as connection:
        connection.execute(
            insert(Heartbeat.__table__),  # type: ignore[attr-defined]
            [
                {
                    "component": "scheduler",
                    "holder": "bench",
                    "status": "up",
                    "detail": "{}",
                    "started_at": NOW - timedelta(days=1),
                    "beat_at": NOW,
                }
            ],
        )
        connection.execute(insert(OutboxPost.__table__), list(outbox_rows()))  # type: ignore[attr-defined]
        connection.execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":
        # A table that grew over two years has been vacuumed by autovacuum; one bulk
        # load has not, and autovacuum would run during the timings. Do it now.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    print(f"  filled in {time.perf_counter() - started:.1f}s", flush=True)


def timed(what: Callable[[], object], repeat: int) -> float:
    what()  # warm caches and the statement cache
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        what()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(label: str, engine: Engine, total: int, repeat: int) -> bool:
    print(f"{label}: filling {total:,} runs of {JOBS} jobs over {YEARS} years", flush=True)
    migrate.upgrade(engine)
    fill(engine, total)
    context = bench_context(engine)
    figures = {
        "day digest": timed(lambda: build_digest(context, "day", NOW), repeat),
        "week digest": timed(lambda: build_digest(context, "week", NOW), repeat),
        "day digest + chart": timed(lambda: build_digest_with_chart(context, "day", NOW), repeat),
        "health": timed(lambda: health_report(context, now=NOW), repeat),
    }
    digest = build_digest(context, "day", NOW)
    print(f"  (day digest: {digest.runs:,} runs, {len(digest.insights)} insights)")
    for insight in digest.insights[:3]:
        print(f"    {insight.text}")
    figures.update(asyncio.run(operator_figures(context, repeat)))
    for name, ms in figures.items():
        print(f"  {name:<34} {ms:8.1f} ms" + ("" if "first" in name else f" (median of {repeat})"))
    ok = figures["day digest"] <= TARGET_DAY_MS
    verdict = "met" if ok else "MISSED"
    print(f"  target: day digest <= {TARGET_DAY_MS:.0f} ms: {verdict}", flush=True)
    for name in ("GET /api/digest?period=day", "GET /metrics"):
        met = figures[name] <= TARGET_HTTP_MS
        print(f"  target: {name} <= {TARGET_HTTP_MS:.0f} ms: {'met' if met else 'MISSED'}")
        ok = ok and met
    return ok


async def operator_figures(context: Context, repeat: int) -> dict[str, float]:
    """The operator's endpoints over real HTTP on 127.0.0.1, the clock at NOW."""
    import httpx

    from bot.operator.metrics import OpsdeskCollector
    from bot.operator.server import start_operator_surface

    figures: dict[str, float] = {}
    cold = OpsdeskCollector(context, lambda: True)
    started = time.perf_counter()
    await asyncio.to_thread(lambda: list(cold.collect()))
    figures["metrics, first read of all rows"] = (time.perf_counter() - started) * 1000

    server = await start_operator_surface(
        context, listen=("127.0.0.1", 0), token=None, leadership=lambda: True
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bound_port}") as client:
            for path in ("/api/digest?period=day", "/api/digest?period=week", "/metrics"):
                samples = []
                for attempt in range(repeat + 1):
                    started = time.perf_counter()
                    answer = await client.get(path, timeout=60)
                    elapsed = (time.perf_counter() - started) * 1000
                    answer.raise_for_status()
                    if attempt:  # the first warms the statement cache (and /metrics' totals)
                        samples.append(elapsed)
                figures[f"GET {path}"] = statistics.median(samples)
            size = len((await client.get("/metrics")).content)
            print(f"  (/metrics: {size:,} bytes)")
    finally:
        await server.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
        results.append(measure("sqlite", engine, args.runs, args.repeat))
        engine.dispose()
    pg = os.environ.get("OPSDESK_BENCH_POSTGRES_URL") or os.environ.get("OPSDESK_TEST_POSTGRES_URL")
    if pg and not args.no_postgres:
        results.append(measure_postgres(pg, args.runs, args.repeat))
    return 0 if all(results) else 1


def measure_postgres(url: str, total: int, repeat: int) -> bool:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    separator = "&" if "?" in url else "?"
    engine = make_engine(f"{url}{separator}options=-csearch_path%3D{name}")
    try:
        return measure("postgresql", engine, total, repeat)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
