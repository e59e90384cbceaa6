"""All-time totals over the finished run rows, for `/metrics`.

Prometheus counters must only go up, and a scrape must stay cheap at millions of
rows, so the totals are read incrementally: rows up to a watermark id are summed
once and remembered; each scrape sums only the rows after it. That memory is a
cache of a query over rows that no longer change (a finished run row is never
updated again, and no run row is deleted), not a second set of counters: a new
process reads the same figures back from the rows.

A row joins the remembered part only once it is finished and settled: rows still
`running`, or finished within `SETTLE`, are summed afresh on every scrape (the
tail). That also covers a row whose id was taken by a transaction that had not yet
committed when an earlier scrape read past it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from storage.models import JobRun, Review

runs = JobRun.__table__  # type: ignore[attr-defined]
reviews = Review.__table__  # type: ignore[attr-defined]

SETTLE = timedelta(minutes=5)
# Upper bounds in seconds; a run of a scheduled job takes from a blink to an hour.
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
# One model call: local models answer in seconds to minutes.
LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
# Waiting for a free worker: none at all on a quiet day, most of a night on a busy one.
WAIT_BUCKETS = (0.1, 1.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)

JobKind = tuple[str, str]  # (job, kind)


@dataclass
class Histogram:
    """Per-bucket counts (not cumulative; the last is +Inf), count and sum in seconds."""

    bounds: tuple[float, ...]
    counts: list[int]
    total: int = 0
    sum_seconds: float = 0.0

    @classmethod
    def empty(cls, bounds: tuple[float, ...]) -> Histogram:
        return cls(bounds, [0] * (len(bounds) + 1))

    def add(self, other: Histogram) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.total += other.total
        self.sum_seconds += other.sum_seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus' buckets: (le, runs at or under it), ending with +Inf."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


@dataclass
class RunTotals:
    """What `/metrics` exports from the run rows."""

    # (job, kind, status) → runs
    runs: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    # (job, kind) → durations of successful runs that did the work (not cache hits)
    durations: dict[JobKind, Histogram] = field(default_factory=dict)
    # (job, kind) → how long finished runs waited for a worker (rows that recorded it)
    waits: dict[JobKind, Histogram] = field(default_factory=dict)
    # (job, kind) → cache hits, and successful runs that were not (misses)
    cache_hits: dict[JobKind, int] = field(default_factory=lambda: defaultdict(int))
    did_work: dict[JobKind, int] = field(default_factory=lambda: defaultdict(int))
    # model → review tokens sent, received, and what full reviews would have sent
    prompt_tokens: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    completion_tokens: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    full_tree_tokens: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # model → latency of its calls
    model_latency: dict[str, Histogram] = field(default_factory=dict)
    running: dict[JobKind, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: RunTotals) -> None:
        for table in ("runs", "cache_hits", "did_work", "prompt_tokens", "completion_tokens"):
            mine, theirs = getattr(self, table), getattr(other, table)
            for key, value in theirs.items():
                mine[key] += value
        for key, value in other.full_tree_tokens.items():
            self.full_tree_tokens[key] += value
        for key, value in other.running.items():
            self.running[key] += value
        for histograms, bounds in (
            ((self.durations, other.durations), DURATION_BUCKETS),
            ((self.waits, other.waits), WAIT_BUCKETS),
            ((self.model_latency, other.model_latency), LATENCY_BUCKETS),
        ):
            mine_h, theirs_h = histograms
            for key, histogram in theirs_h.items():
                mine_h.setdefault(key, Histogram.empty(bounds)).add(histogram)  # type: ignore[arg-type]

    def copy(self) -> RunTotals:
        out = RunTotals()
        out.add(self)
        return out


def _bucket_columns(column: Any, bounds: tuple[float, ...]) -> list[ColumnElement[Any]]:
    """SUM(CASE …) per bucket, non-cumulative: (previous bound, bound] in milliseconds."""
    columns: list[ColumnElement[Any]] = []
    lower: float | None = None
    for bound in (*bounds, None):
        conditions = []
        if lower is not None:
            conditions.append(column > lower * 1000)
        if bound is not None:
            conditions.append(column <= bound * 1000)
        columns.append(func.sum(case((and_(*conditions), 1), else_=0), type_=Integer))
        lower = bound
    return columns


def _histogram(bounds: tuple[float, ...], row: Any, offset: int) -> Histogram:
    counts = [int(value or 0) for value in row[offset : offset + len(bounds) + 1]]
    total = int(row[offset + len(bounds) + 1] or 0)
    sum_ms = float(row[offset + len(bounds) + 2] or 0)
    return Histogram(bounds, counts, total, sum_ms / 1000)


def sum_rows(connection: Connection, where: ColumnElement[bool]) -> RunTotals:
    """The totals of the finished rows matching `where` (running ones counted apart)."""
    totals = RunTotals()
    did_work = and_(runs.c.status == "ok", runs.c.cache_hit.is_(False))
    worked_ms = case((did_work, runs.c.duration_ms), else_=None)
    # `job || ''`, not the bare column: grouping by the bare column makes SQLite walk
    # the whole (job, started_at) index instead of the id range (~150 ms against ~1 ms
    # for a scrape's tail at 1,000,000 rows; the first full read is faster too).
    job = (runs.c.job + "").label("job")
    by_job = (
        select(
            job,
            runs.c.kind,
            runs.c.status,
            func.count(),
            func.sum(case((runs.c.cache_hit.is_(True), 1), else_=0), type_=Integer),
            func.sum(case((and_(did_work, runs.c.duration_ms.is_not(None)), 1), else_=0)),
            *_bucket_columns(worked_ms, DURATION_BUCKETS),
            func.count(worked_ms),
            func.sum(worked_ms),
            *_bucket_columns(runs.c.wait_ms, WAIT_BUCKETS),
            func.count(runs.c.wait_ms),
            func.sum(runs.c.wait_ms),
        )
        .where(where)
        .group_by(job, runs.c.kind, runs.c.status)
    )
    for row in connection.execute(by_job):
        job, kind, status, count, hits, worked = row[0], row[1], row[2], row[3], row[4], row[5]
        if status == "running":
            totals.running[(job, kind)] += int(count)
            continue
        totals.runs[(job, kind, status)] += int(count)
        totals.cache_hits[(job, kind)] += int(hits or 0)
        totals.did_work[(job, kind)] += int(worked or 0)
        histogram = _histogram(DURATION_BUCKETS, row, 6)
        if histogram.total:
            totals.durations.setdefault((job, kind), Histogram.empty(DURATION_BUCKETS)).add(
                histogram
            )
        waited = _histogram(WAIT_BUCKETS, row, 6 + len(DURATION_BUCKETS) + 3)
        if waited.total:
            totals.waits.setdefault((job, kind), Histogram.empty(WAIT_BUCKETS)).add(waited)

    finished = and_(where, runs.c.status != "running", runs.c.model.is_not(None))
    by_model = (
        select(
            runs.c.model,
            func.sum(case((runs.c.kind == "review", runs.c.tokens_in), else_=0)),
            func.sum(case((runs.c.kind == "review", runs.c.tokens_out), else_=0)),
            *_bucket_columns(runs.c.model_latency_ms, LATENCY_BUCKETS),
            func.count(runs.c.model_latency_ms),
            func.sum(runs.c.model_latency_ms),
        )
        .where(finished)
        .group_by(runs.c.model)
    )
    for row in connection.execute(by_model):
        model = row[0]
        totals.prompt_tokens[model] += int(row[1] or 0)
        totals.completion_tokens[model] += int(row[2] or 0)
        latency = _histogram(LATENCY_BUCKETS, row, 3)
        if latency.total:
            totals.model_latency.setdefault(model, Histogram.empty(LATENCY_BUCKETS)).add(latency)

    full_tree = (
        select(runs.c.model, func.sum(reviews.c.full_prompt_tokens))
        .select_from(runs.join(reviews, runs.c.review_id == reviews.c.id))
        .where(finished, runs.c.kind == "review")
        .group_by(runs.c.model)
    )
    for model, tokens in connection.execute(full_tree):
        totals.full_tree_tokens[model] += int(tokens or 0)
    return totals


class RunTotalsReader:
    """Remembers the settled part of the totals between scrapes (thread-safe enough:
    one scrape at a time is serialised by the caller's lock)."""

    def __init__(self) -> None:
        self.watermark = 0  # every row with id <= watermark is in `settled`
        self.settled = RunTotals()

    def read(self, connection: Connection, now: datetime) -> RunTotals:
        unsettled = or_(runs.c.status == "running", runs.c.finished_at >= now - SETTLE)
        after = runs.c.id > self.watermark
        first_unsettled = connection.execute(
            select(func.min(runs.c.id)).where(after, unsettled)
        ).scalar()
        if first_unsettled is None:
            first_unsettled = (connection.execute(select(func.max(runs.c.id))).scalar() or 0) + 1
        new_watermark = int(first_unsettled) - 1
        if new_watermark > self.watermark:
            self.settled.add(sum_rows(connection, and_(after, runs.c.id <= new_watermark)))
            self.watermark = new_watermark
        result = self.settled.copy()
        result.add(sum_rows(connection, runs.c.id > self.watermark))
        return result
