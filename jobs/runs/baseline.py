"""A job's duration baseline: the median duration of its successful, non-cached runs
in the trailing `BASELINE_DAYS`. The digest compares a period against it, and a
cache hit's post says it saved about that much.

It lives with the run rows rather than in the digest so that a run's post does not
load the digest's modules (its chart, statistics and review totals) into a process
that has not built a digest.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection, Engine

from storage.models import JobRun, utcnow

runs = JobRun.__table__  # type: ignore[attr-defined]

BASELINE_DAYS = 14


class DurationSample(NamedTuple):
    """Duration of one successful, non-cached run: the baseline and the chart's raw data.

    Query: status = 'ok' AND NOT cache_hit AND duration_ms IS NOT NULL in the
    baseline window (see the digest's `DigestWindow`); a few hundred per job is
    plenty, so the query may keep only the latest N per job.
    """

    job: str
    started_at: datetime
    duration_ms: int


def duration_samples(
    connection: Connection, start: datetime, end: datetime, job: str | None = None
) -> list[DurationSample]:
    """Durations of successful, non-cached runs that started in [start, end) — the
    samples a job's baseline is the median of (of one job, when named)."""
    query = select(runs.c.job, runs.c.started_at, runs.c.duration_ms).where(
        and_(runs.c.started_at >= start, runs.c.started_at < end),
        runs.c.status == "ok",
        runs.c.cache_hit == False,  # noqa: E712 - SQL comparison, not Python
        runs.c.duration_ms.is_not(None),
    )
    if job is not None:
        query = query.where(runs.c.job == job)
    return [DurationSample(*row) for row in connection.execute(query)]


def baseline_ms(engine: Engine, job: str, now: datetime | None = None) -> int | None:
    """What a cache hit of `job` saves: its baseline at `now`, or None without samples."""
    end = now or utcnow()
    with engine.connect() as connection:
        samples = duration_samples(connection, end - timedelta(days=BASELINE_DAYS), end, job)
    return int(statistics.median(s.duration_ms for s in samples)) if samples else None
