"""What the digest is computed from: run rows and review totals for one window.

Slotted dataclasses and named tuples, not pydantic models: a week of runs can be tens
of thousands of rows and building them must stay cheap. A SQLAlchemy row of the right
columns converts with `DurationSample(*row)`. Sizes to expect (a 1,000,000-run
history): the period's and the previous period's runs raw (a day is a few thousand
rows of a dozen columns), the baseline as `DurationSample`s of successful non-cached
runs only, and reviews and feedback as totals a GROUP BY returns (queries.py reads
them all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple, cast

from jobs.runs.baseline import BASELINE_DAYS, DurationSample

Period = Literal["day", "week"]
PERIOD_LENGTH: dict[str, timedelta] = {"day": timedelta(days=1), "week": timedelta(days=7)}


def as_period(text: str) -> Period | None:
    """'day' or 'week' (any case) as a Period; None for anything else."""
    value = text.lower()
    return cast("Period", value) if value in PERIOD_LENGTH else None


# JobRun.status values that count as a success; "running" is not finished and is
# left out of rates; every other finished status (failed, timeout, missed,
# interrupted, abandoned) is a failure.
SUCCESS_STATUSES = frozenset({"ok", "cached"})


UNFINISHED_STATUSES = frozenset({"running"})

# opsdesk's own jobs (the digest, the health check): figures for the operator, not
# news for the team; left out of the chat digest and the chart.
INTERNAL_KINDS = frozenset({"digest", "health"})


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


class DayCount(NamedTuple):
    """The team's finished runs, cache hits and failures on one of its days (the
    chart's 14 days)."""

    day: date
    runs: int
    cache_hits: int
    failures: int = 0


@dataclass(frozen=True, slots=True)
class RepoFindings:
    """One repository's findings, each finding counted once (see figures.ReviewSection)."""

    repo: str
    new: int = 0
    fixed: int = 0
    open: int = 0
    suppressed: int = 0
    muted: int = 0  # open findings of a rule muted in the repository now
    marked_false_positive: int = 0


@dataclass(frozen=True, slots=True)
class ReviewTotals:
    """Aggregates over the `reviews`, `findings`, `review_findings` and `feedback`
    tables for the period; the counts are defined once, in figures.ReviewSection.

    `full_review_tokens_in` is what the period's model review runs (cache hits
    included) would have sent had each been a full review — the sum of
    `full_prompt_tokens` of the `llm` reviews they used (linters send none); tokens
    actually sent come from the run rows.
    """

    full: int = 0
    delta: int = 0
    findings_new: int = 0
    findings_fixed: int = 0
    findings_open: int = 0
    suppressed: int = 0
    muted: int = 0
    full_review_tokens_in: int = 0
    marked_false_positive: int = 0
    per_repo: tuple[RepoFindings, ...] = ()


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


@dataclass(frozen=True, slots=True)
class DigestInputs:
    """Everything one digest (and its chart) is computed from; see `digest_window`
    for the range each should cover. `job_health` maps job → up | late | down |
    paused; without it health is not judged and health alerts are left alone.
    `health_details` maps job → health's reason, quoted in the insight."""

    period_runs: Sequence[RunRecord]
    baseline: Sequence[DurationSample]  # the baseline window; the chart's days are inside it
    previous_runs: Sequence[RunRecord]
    reviews: ReviewTotals | None = None
    feedback: FeedbackTotals | None = None
    job_health: Mapping[str, str] | None = None
    health_details: Mapping[str, str] | None = None
    day_counts: Sequence[DayCount] = ()  # for the chart only
