"""What the digest says: its figures and insights as pydantic models, JSON-serialisable
(`digest.model_dump_json()`) for `/api/digest` and `opsdesk digest --json`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from jobs.core.text import duration, plural
from jobs.digest.inputs import Period


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


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


class RepoReview(_Out):
    repo: str
    new: int
    fixed: int
    open: int
    suppressed: int
    marked_false_positive: int
    muted: int = 0


class ReviewSection(_Out):
    """Reviews of the period and their findings. Every count is defined here once and
    means the same in a review post, `/findings`, the digest, the page and `/metrics`;
    each finding counts once, however many reviews listed it:

    - open: findings open now that nobody marks false positive and whose rule is not
      muted (new ones included) — what `/findings <repo>` lists and
      `opsdesk_findings_open` exports;
    - new: findings first reported by the period's reviews, false positives and muted
      rules left out;
    - fixed: findings the period's reviews found gone;
    - suppressed: open findings someone marks false positive — what
      `/findings <repo> suppressed` lists;
    - muted: open findings of a rule an admin muted in their repository — what
      `/findings <repo> muted` lists and `opsdesk_findings_muted` exports;
    - marked_false_positive: findings given a false-positive verdict in the period
      that still stands (an undo takes it back);
    - helpful, not_helpful, false_positive: verdicts (one per person and finding)
      given in the period.
    """

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
    marked_false_positive: int = 0
    muted: int = 0
    repos: list[RepoReview] = []


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
    internal: bool = False  # opsdesk's own job (the digest, the health check)


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
    timezone: str  # the team's zone (the scheduler's): times are shown in it
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


Severity = Literal["info", "warning", "critical"]


SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


class Insight(BaseModel):
    """Something worth a look, with the numbers behind it. (job, metric) is the alert key."""

    model_config = ConfigDict(frozen=True)

    job: str
    metric: str  # duration | success_rate | cache_hit_rate | health
    severity: Severity
    headline: str  # what changed, in plain words, for chat
    text: str  # the same with the statistics behind it, for the operator page
    numbers: dict[str, float]


def time_saved_phrase(caching: CachingSection) -> str:
    """'2h 14m saved by caching', or why there is no figure."""
    if not caching.cache_hits:
        return "no cache hits"
    if caching.cached_runs_without_baseline == caching.cache_hits:
        return f"{plural(caching.cache_hits, 'cache hit')} (time saved unknown: no baseline)"
    return f"{duration(caching.time_saved_ms)} saved by caching"
