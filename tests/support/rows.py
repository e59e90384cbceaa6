"""Rows written straight into a migrated database: a finding to show and press, a
model's reviews, and synthetic run histories as real JobRun rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from storage.db import session_scope
from storage.models import Finding, Heartbeat, JobRun, Review


def add_finding(engine: Engine, **overrides: object) -> Finding:
    """A finding row to read and press buttons on; fields as a ruff F401 unless given."""
    values: dict[str, object] = {
        "repo": "demo",
        "path": "app/main.py",
        "line": 3,
        "severity": "warning",
        "category": "F401",
        "message": "`os` imported but unused",
        "source": "ruff:F401",
        **overrides,
    }
    values.setdefault("fingerprint", f"fp-{values['path']}-{values['message']}"[:64])
    row = Finding.model_validate(values)
    with session_scope(engine) as session:
        session.add(row)
        session.flush()
    assert row.id is not None
    return row


def add_reviews(engine: Engine, *reviews: dict[str, Any]) -> list[int]:
    """Review rows by a model reviewer, stored in order; their ids. Review n is of commit
    n (as 40 hex digits) in repository "api", a delta by reviewer fingerprint "fp", unless
    its dict says otherwise."""
    rows = [
        Review.model_validate(
            {
                "repo": "api",
                "commit_sha": f"{n:040x}",
                "reviewer_fingerprint": "fp",
                "reviewer_kind": "llm",
                "kind": "delta",
                **fields,
            }
        )
        for n, fields in enumerate(reviews)
    ]
    with session_scope(engine) as session:
        session.add_all(rows)
        session.flush()
        ids = [row.id for row in rows]
    assert None not in ids
    return [review_id for review_id in ids if review_id is not None]


def run_row(
    job: str,
    at: datetime,
    duration_s: float,
    *,
    status: str = "ok",
    cache_hit: bool = False,
    kind: str = "command",
    **extra: Any,
) -> dict[str, Any]:
    duration_ms = round(duration_s * 1000)
    return {
        "job": job,
        "kind": kind,
        "trigger": "schedule",
        "status": status,
        "started_at": at,
        "finished_at": None if status == "running" else at + timedelta(milliseconds=duration_ms),
        "duration_ms": None if status == "running" else duration_ms,
        "cache_hit": cache_hit,
        **extra,
    }


def review_run(
    repo: str,
    at: datetime,
    *,
    model: str | None = None,
    tokens_in: int | None = None,
    tokens_out: int | None = None,
    review_id: int | None = None,
    status: str = "ok",
    duration_s: float = 2,
) -> dict[str, Any]:
    """A review run of `repo` as the engine records it (a cache hit when `status` is
    "cached"); every key present, so rows of different kinds insert together."""
    return run_row(
        f"review:{repo}",
        at,
        duration_s,
        kind="review",
        status=status,
        cache_hit=status == "cached",
        model=model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        review_id=review_id,
    )


def add_runs(engine: Engine, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(JobRun.__table__), rows)  # type: ignore[attr-defined]


def add_build_history(engine: Engine, now: datetime) -> None:
    """Fifteen days of job "build" up to `now`, four runs a day: every other one a cache
    hit of 1 s, the rest 40 s, except today's, which take 100 s (one regression)."""
    add_runs(
        engine,
        [
            run_row(
                "build",
                now - timedelta(days=d, hours=h + 1),
                1 if h % 2 else 40 + (d == 0) * 60,
                cache_hit=bool(h % 2),
                status="cached" if h % 2 else "ok",
            )
            for d in range(15)
            for h in range(4)
        ],
    )


def scheduler_beats(engine: Engine, now: datetime) -> None:
    """The scheduler is alive at `now`, and has been for three days."""
    with session_scope(engine) as session:
        session.merge(
            Heartbeat(
                component="scheduler",
                holder="test:1",
                status="up",
                detail="{}",
                started_at=now - timedelta(days=3),
                beat_at=now,
            )
        )


def count_reviews(engine: Engine, repo: str) -> int:
    """How many review rows `repo` has (a failed review writes none)."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(Review).where(col(Review.repo) == repo)
            ).scalar_one()
        )


def daily_model_reviews(repo: str, days: range, hour: int) -> list[dict[str, Any]]:
    """A review of `repo` by the model "big" on each of `days` of December 2026 at
    `hour`:00 UTC, 100k tokens each (90k sent, 10k received): a month's usage to
    forecast and budget."""
    return [
        review_run(repo, datetime(2026, 12, day, hour, tzinfo=UTC), model="big",
                   tokens_in=90_000, tokens_out=10_000)
        for day in days
    ]  # fmt: skip
