"""Writing synthetic run histories as real JobRun rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from storage.models import JobRun


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


def add_runs(engine: Engine, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(JobRun.__table__), rows)  # type: ignore[attr-defined]
