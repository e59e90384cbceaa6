"""The digest's inputs (plain records the storage layer fills) and its output.

Inputs are slotted dataclasses and named tuples, not pydantic models: a week of
runs can be tens of thousands of rows and building them must stay cheap. A
SQLAlchemy row of the right columns converts with `DurationSample(*row)`.

The output `Digest` is a pydantic model, JSON-serialisable (`digest.model_dump_json()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

Period = Literal["day", "week"]
PERIOD_LENGTH: dict[str, timedelta] = {"day": timedelta(days=1), "week": timedelta(days=7)}
BASELINE_DAYS = 14

# JobRun.status values that count as a success; "running" is not finished and is
# left out of rates; every other finished status (failed, timeout, missed,
# interrupted, abandoned) is a failure.
SUCCESS_STATUSES = frozenset({"ok", "cached"})
UNFINISHED_STATUSES = frozenset({"running"})

Severity = Literal["info", "warning", "critical"]
# What health says about a job; "late" and "down" become insights.
HealthState = Literal["up", "late", "down", "paused"]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One JobRun row, reduced to what the digest reads. `started_at` is aware UTC."""

    job: str
    kind: str
    status: str
    started_at: datetime
    duration_ms: int | None
    cache_hit: bool = False
    tokens_in: int | None = None
    tokens_out: int | None = None
    model: str | None = None
    model_latency_ms: int | None = None
    batch_id: str | None = None
    trigger: str = "schedule"

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCESS_STATUSES

    @property
    def did_work(self) -> bool:
        """A successful run that was not served from the cache: its duration is real work."""
        return self.status == "ok" and not self.cache_hit and self.duration_ms is not None


class DurationSample(NamedTuple):
    """Duration of one successful, non-cached run: the baseline and the chart's raw data.

    Query: status = 'ok' AND NOT cache_hit AND duration_ms IS NOT NULL in the
    baseline window (see `DigestWindow`); a few hundred per job is plenty, so the
    query may keep only the latest N per job.
    """

    job: str
    started_at: datetime
    duration_ms: int


class DayCount(NamedTuple):
    """Runs and cache hits on one UTC day (a GROUP BY over the chart's 14 days)."""

    day: date
    runs: int
    cache_hits: int


@dataclass(frozen=True, slots=True)
class ReviewTotals:
    """Aggregates over the `reviews`, `findings` and `review_findings` tables for the period.

    `full_review_tokens_in` is what the period's model review runs (cache hits
    included) would have sent had each been a full review — the sum of
    `full_prompt_tokens` of the `llm` reviews they used (linters send none); tokens
    actually sent come from the run rows.
    `findings_open` is the number open at the end of the period.
    """

    full: int = 0
    delta: int = 0
    findings_new: int = 0
    findings_fixed: int = 0
    findings_open: int = 0
    suppressed: int = 0
    full_review_tokens_in: int = 0


@dataclass(frozen=True, slots=True)
class FeedbackTotals:
    """Feedback verdicts given in the period (the latest per user and finding)."""

    helpful: int = 0
    not_helpful: int = 0
    false_positive: int = 0
    resolved: int = 0


@dataclass(frozen=True, slots=True)
class DigestWindow:
    """The time ranges one digest reads; all [start, end) and aware UTC.

    period:   [start, end)                     → period runs
    previous: [previous_start, start)          → previous-period runs
    baseline: [baseline_start, start)          → duration samples (14 days before the
              period, so a regression never dilutes its own baseline); the chart's
              14 days are the tail of baseline + period.
    """

    period: Period
    start: datetime
    end: datetime
    previous_start: datetime
    baseline_start: datetime


def digest_window(period: Period, now: datetime) -> DigestWindow:
    """The rolling window ending at `now`: the last 24 hours or the last 7 days."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    length = PERIOD_LENGTH[period]
    start = now - length
    return DigestWindow(
        period=period,
        start=start,
        end=now,
        previous_start=start - length,
        baseline_start=start - timedelta(days=BASELINE_DAYS),
    )


# ---- output -------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Insight(_Out):
    """Something worth a look, with the numbers behind it. (job, metric) is the alert key."""

    job: str
    metric: str  # duration | success_rate | cache_hit_rate | health
    severity: Severity
    text: str
    numbers: dict[str, float]


class JobCache(_Out):
    job: str
    runs: int
    cache_hits: int
    hit_rate: float | None


class CachingSection(_Out):
    runs: int
    cache_hits: int
    hit_rate: float | None
    time_saved_ms: float
    # Cached runs of jobs with no baseline yet: their saving is unknown, not zero.
    cached_runs_without_baseline: int
    review_tokens_in: int
    full_review_tokens_in: int | None
    per_job: list[JobCache]


class ReviewSection(_Out):
    full: int
    delta: int
    cached: int
    findings_new: int
    findings_fixed: int
    findings_open: int
    suppressed: int
    helpful: int
    not_helpful: int
    false_positive: int
    helpful_share: float | None  # helpful / (helpful + not_helpful + false_positive)
    has_review_data: bool


class JobStats(_Out):
    job: str
    runs: int
    failures: int
    success_rate: float | None
    p50_ms: float | None  # of successful, non-cached runs
    p95_ms: float | None
    p50_change_pct: float | None  # vs the previous period
    p95_change_pct: float | None
    success_rate_change: float | None  # percentage points vs the previous period
    health: str | None
    clean: bool  # every run succeeded and nothing to flag


class ModelStats(_Out):
    model: str
    calls: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    stdev_ms: float | None
    tokens_per_s: float | None  # output tokens per second of model latency
    p50_change_pct: float | None
    success_rate_change: float | None


class BatchingSection(_Out):
    batches: int
    member_runs: int
    triggers_saved: int  # member runs - distinct batch ids
    posts_saved: int  # one post per batch instead of one per member run


class Digest(_Out):
    period: Period
    start: datetime
    end: datetime
    summary: str
    runs: int
    failures: int
    caching: CachingSection
    reviews: ReviewSection
    jobs: list[JobStats]  # worst first
    models: list[ModelStats]
    batching: BatchingSection
    insights: list[Insight]
    # (job, metric) pairs that had enough data to be judged this period: an alert
    # on a pair that was not checked stays as it is.
    checked: list[tuple[str, str]]
    notes: list[str]  # honest remarks about thin data
