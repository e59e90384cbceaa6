"""A known, realistic history for the page: a fortnight of baseline and a day with a
regression, a failing job, cache hits, model reviews with tokens and a batch.

`SHOWN` lists figures the page must show for it (the browser test checks them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from tests.support.rows import add_reviews, add_runs, run_row

MODEL = "qwen2.5-coder:7b"
JOBS = ("review-api", "lint-web", "morning-brief", "deploy-check", "backup-db")

# Figures of the last day, as the page prints them.
SHOWN = {
    "deploy-check success": "67%",  # 8 of 12 ok
    "lint-web hit rate": "83%",  # 10 of 12 runs cached
    "review tokens saved": "87%",  # 12,000 sent of 90,000 for full reviews
    "model": MODEL,
}

CONFIG = """
[scheduler]
timezone = "UTC"

[[repos]]
name = "review-api"
path = "{root}/api"
reviewer = "llm"

[[repos]]
name = "lint-web"
path = "{root}/web"

[[jobs]]
name = "morning-brief"
command = "echo brief"
cache = {{ inputs = ["day"], ttl = "1d" }}

[[jobs]]
name = "deploy-check"
command = "true"

[[jobs]]
name = "backup-db"
command = "true"
"""


def write_history(engine: Engine, now: datetime) -> None:
    rows = []
    for day in range(1, 15):
        for hour in (2, 8, 14, 20):
            at = now - timedelta(days=day, hours=hour)
            rows.append(run_row("backup-db", at, 40.0 + hour / 10))
            rows.append(run_row("deploy-check", at, 3.0))
            rows.append(run_row("lint-web", at, 6.0, kind="review"))
            rows.append(run_row("morning-brief", at, 12.0))
    for slot in range(12):
        at = now - timedelta(hours=2 * slot + 1)
        rows.append(run_row("backup-db", at, 95.0 + slot))  # more than twice as slow
        rows.append(run_row("deploy-check", at, 3.2, status="failed" if slot % 3 == 0 else "ok"))
        cached = slot >= 2
        rows.append(
            run_row(
                "lint-web",
                at,
                0.02 if cached else 6.1,
                kind="review",
                status="cached" if cached else "ok",
                cache_hit=cached,
            )
        )
        rows.append(
            run_row(
                "morning-brief",
                at,
                0.01 if slot else 12.5,
                status="cached" if slot else "ok",
                cache_hit=bool(slot),
                batch_id=f"morning-{slot}",
            )
        )
    add_runs(engine, rows)

    review_ids = add_reviews(
        engine,
        *(
            {
                "repo": "review-api",
                "model": MODEL,
                "kind": "delta" if n else "full",
                "full_prompt_tokens": 15_000,
                "prompt_tokens": 2_000,
                "completion_tokens": 400,
                "created_at": now - timedelta(hours=4 * n + 1),
            }
            for n in range(6)
        ),
    )
    add_runs(
        engine,
        [
            run_row(
                "review-api",
                now - timedelta(hours=4 * n + 1),
                24.0 + n,
                kind="review",
                model=MODEL,
                tokens_in=2_000,
                tokens_out=400,
                model_latency_ms=21_000 + 500 * n,
                review_id=review_ids[n],
            )
            for n in range(6)
        ],
    )
