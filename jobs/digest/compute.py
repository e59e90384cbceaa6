"""compute_digest: run records and review aggregates in, a `Digest` out. Pure.

Inputs are slotted dataclasses and named tuples, not pydantic models: a week of
runs can be tens of thousands of rows and building them must stay cheap. A
SQLAlchemy row of the right columns converts with `DurationSample(*row)`.
Sizes to expect (a 1,000,000-run history): the period's and the previous period's
runs raw (a day is a few thousand rows of a dozen columns), the baseline as
`DurationSample`s of successful non-cached runs only, and reviews and feedback as
totals a GROUP BY returns (queries.py reads them all).

The output `Digest` is a pydantic model, JSON-serialisable (`digest.model_dump_json()`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jobs.core import text as words
from jobs.core.when import local_time
from jobs.digest import insights
from jobs.digest.figures import (
    SEVERITY_ORDER,
    BatchingSection,
    CachingSection,
    Digest,
    Insight,
    JobCache,
    JobStats,
    ModelStats,
    RepoReview,
    ReviewSection,
    time_saved_phrase,
)
from jobs.digest.inputs import (
    BASELINE_DAYS,
    INTERNAL_KINDS,
    DigestInputs,
    DigestWindow,
    DurationSample,
    FeedbackTotals,
    Period,
    ReviewTotals,
    RunRecord,
    digest_window,
)
from jobs.digest.stats import change_pct, mad, median, percentile, ratio, stdev
from jobs.runs.system import DIGEST_JOB, HEALTH_JOB

# ---- inputs -------------------------------------------------------------------------------


# ---- statistics ---------------------------------------------------------------------------
# Small descriptive statistics, robust to empty input: every function returns None
# when there is too little data to say anything, so callers never special-case
# empty histories.


# ---- output -------------------------------------------------------------------------


# ---- the sections ------------------------------------------------------------------------


INTERNAL_JOBS = frozenset({DIGEST_JOB, HEALTH_JOB})


@dataclass(slots=True)
class JobTally:
    """One job's runs in one period, gathered in a single pass."""

    finished: int = 0
    succeeded: int = 0
    cache_hits: int = 0
    work_ms: list[float] = field(default_factory=list)  # successful, non-cached
    cached_ms: list[float] = field(default_factory=list)
    internal: bool = False

    def figures(self) -> tuple[float | None, float | None, float | None]:
        """Success rate, and p50 and p95 of the successful non-cached runs; None for
        what there were no runs to say."""
        work = self.work_ms
        return ratio(self.succeeded, self.finished), percentile(work, 50), percentile(work, 95)

    def hits(self, metric: str) -> tuple[int, int]:
        """(successes or cache hits, finished runs): what a rate metric is judged on."""
        return (self.succeeded if metric == "success_rate" else self.cache_hits), self.finished


def tally_by_job(runs: Iterable[RunRecord]) -> dict[str, JobTally]:
    tallies: dict[str, JobTally] = defaultdict(JobTally)
    for run in runs:
        if not run.finished:
            continue
        tally = tallies[run.job]
        tally.internal = run.kind in INTERNAL_KINDS
        tally.finished += 1
        tally.succeeded += run.succeeded
        if run.cache_hit:
            tally.cache_hits += 1
            if run.duration_ms is not None:
                tally.cached_ms.append(run.duration_ms)
        elif run.did_work:
            tally.work_ms.append(run.duration_ms)  # type: ignore[arg-type]
    return dict(tallies)


def _rate_change(current: float | None, previous: float | None) -> float | None:
    return None if current is None or previous is None else current - previous


def job_stats(
    current: Mapping[str, JobTally],
    previous: Mapping[str, JobTally],
    health: Mapping[str, str],
    flagged: Collection[str],
) -> list[JobStats]:
    """One row per job that ran in the period or that health knows; worst first:
    flagged jobs, then lower success rate, then more failures."""
    rows: list[JobStats] = []
    for job in set(current) | set(health):
        tally = current.get(job, JobTally())
        failures = tally.finished - tally.succeeded
        success, p50, p95 = tally.figures()
        before_success, before_p50, before_p95 = previous.get(job, JobTally()).figures()
        state = health.get(job)
        rows.append(
            JobStats(
                job=job,
                runs=tally.finished,
                failures=failures,
                success_rate=success,
                p50_ms=p50,
                p95_ms=p95,
                p50_change_pct=change_pct(p50, before_p50),
                p95_change_pct=change_pct(p95, before_p95),
                success_rate_change=_rate_change(success, before_success),
                health=state,
                clean=failures == 0 and job not in flagged and state not in ("late", "down"),
                internal=tally.internal or job in INTERNAL_JOBS,
            )
        )
    rows.sort(
        key=lambda row: (
            row.clean,
            row.job not in flagged,
            1.0 if row.success_rate is None else row.success_rate,
            -row.failures,
            row.job,
        )
    )
    return rows


@dataclass(slots=True)
class _ModelTally:
    calls: int = 0
    succeeded: int = 0
    latency_ms: list[float] = field(default_factory=list)
    tokens_out: int = 0
    timed_ms: float = 0.0  # latency of the calls that reported output tokens


def _tally_models(runs: Iterable[RunRecord]) -> dict[str, _ModelTally]:
    tallies: dict[str, _ModelTally] = defaultdict(_ModelTally)
    for run in runs:
        # A cache hit names the model of the stored review but made no call.
        if run.model is None or run.cache_hit or not run.finished:
            continue
        tally = tallies[run.model]
        tally.calls += 1
        tally.succeeded += run.succeeded
        if run.model_latency_ms is not None:
            tally.latency_ms.append(run.model_latency_ms)
            if run.tokens_out:
                tally.tokens_out += run.tokens_out
                tally.timed_ms += run.model_latency_ms
    return dict(tallies)


def model_stats(
    period_runs: Sequence[RunRecord], previous_runs: Sequence[RunRecord]
) -> list[ModelStats]:
    """Per model: calls, success rate, latency p50/p95/stdev, output tokens per second;
    changes against the previous period. Busiest model first."""
    current, previous = _tally_models(period_runs), _tally_models(previous_runs)
    rows: list[ModelStats] = []
    for model, tally in current.items():
        before = previous.get(model)
        p50 = percentile(tally.latency_ms, 50)
        success = ratio(tally.succeeded, tally.calls)
        rows.append(
            ModelStats(
                model=model,
                calls=tally.calls,
                success_rate=success,
                p50_ms=p50,
                p95_ms=percentile(tally.latency_ms, 95),
                stdev_ms=stdev(tally.latency_ms),
                tokens_per_s=ratio(tally.tokens_out, tally.timed_ms / 1000),
                p50_change_pct=change_pct(p50, percentile(before.latency_ms, 50))
                if before
                else None,
                success_rate_change=_rate_change(success, ratio(before.succeeded, before.calls))
                if before
                else None,
            )
        )
    rows.sort(key=lambda row: (-row.calls, row.model))
    return rows


def batching_section(period_runs: Iterable[RunRecord]) -> BatchingSection:
    """A batch fires once and posts once for all its members: every member run past
    the first in a batch is a trigger and a post saved."""
    members = 0
    batches: set[str] = set()
    for run in period_runs:
        if run.batch_id is not None:
            members += 1
            batches.add(run.batch_id)
    return BatchingSection(
        batches=len(batches),
        member_runs=members,
        triggers_saved=members - len(batches),
        posts_saved=members - len(batches),
    )


def caching_section(
    period_runs: Sequence[RunRecord],
    current: Mapping[str, JobTally],
    previous: Mapping[str, JobTally],
    cost: Mapping[str, float | None],
    reviews: ReviewTotals | None,
) -> CachingSection:
    """Hit rate overall and for jobs that use the cache; time saved against what each
    job's run costs without it (`cost_by_job`); review prompt tokens sent vs a full
    review's."""
    saved = 0.0
    without_baseline = 0
    for job, tally in current.items():
        base = cost.get(job)
        if base is None:
            without_baseline += tally.cache_hits
            continue
        # Time saved: what a real run costs minus what the cached run took, summed.
        saved += sum(base - ms for ms in tally.cached_ms)
        without_baseline += tally.cache_hits - len(tally.cached_ms)
    caching_jobs = sorted(
        job
        for job in current
        if current[job].cache_hits or (job in previous and previous[job].cache_hits)
    )
    finished = sum(t.finished for t in current.values())
    hits = sum(t.cache_hits for t in current.values())
    return CachingSection(
        runs=finished,
        cache_hits=hits,
        hit_rate=ratio(hits, finished),
        time_saved_ms=saved,
        cached_runs_without_baseline=without_baseline,
        review_tokens_in=sum(r.tokens_in or 0 for r in period_runs if r.kind == "review"),
        full_review_tokens_in=None if reviews is None else reviews.full_review_tokens_in,
        per_job=[
            JobCache(
                job=job,
                runs=current[job].finished,
                cache_hits=current[job].cache_hits,
                hit_rate=ratio(current[job].cache_hits, current[job].finished),
            )
            for job in caching_jobs
        ],
    )


def review_section(
    period_runs: Sequence[RunRecord],
    reviews: ReviewTotals | None,
    feedback: FeedbackTotals | None,
) -> ReviewSection:
    """Reviews by kind (cached from the run rows), findings and feedback."""
    totals = reviews or ReviewTotals()
    votes = feedback or FeedbackTotals()
    judged = votes.helpful + votes.not_helpful + votes.false_positive
    return ReviewSection(
        full=totals.full,
        delta=totals.delta,
        cached=sum(1 for r in period_runs if r.kind == "review" and r.cache_hit),
        findings_new=totals.findings_new,
        findings_fixed=totals.findings_fixed,
        findings_open=totals.findings_open,
        suppressed=totals.suppressed,
        helpful=votes.helpful,
        not_helpful=votes.not_helpful,
        false_positive=votes.false_positive,
        helpful_share=ratio(votes.helpful, judged),
        has_review_data=reviews is not None,
        marked_false_positive=totals.marked_false_positive,
        repos=[
            RepoReview(
                repo=r.repo,
                new=r.new,
                fixed=r.fixed,
                open=r.open,
                suppressed=r.suppressed,
                marked_false_positive=r.marked_false_positive,
            )
            for r in totals.per_repo
        ],
    )


# ---- the digest ---------------------------------------------------------------------------


def cost_by_job(
    samples: Iterable[DurationSample], period_runs: Iterable[RunRecord], end: datetime
) -> dict[str, float | None]:
    """What one run of each job costs without the cache: the median duration of its
    successful non-cached runs in the 14 days to `end` — the day and the week digest
    (and a cached run's own post) price a cache hit alike."""
    since = end - timedelta(days=BASELINE_DAYS)
    durations: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        if since <= sample.started_at < end:
            durations[sample.job].append(sample.duration_ms)
    for run in period_runs:
        if run.did_work and since <= run.started_at < end:
            durations[run.job].append(run.duration_ms)  # type: ignore[arg-type]
    return {job: median(values) for job, values in durations.items()}


def baseline_by_job(
    samples: Iterable[DurationSample], window: DigestWindow
) -> dict[str, list[float]]:
    """Durations per job within [baseline_start, start); later samples are ignored so
    one query over the chart's days can feed both."""
    durations: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        if window.baseline_start <= sample.started_at < window.start:
            durations[sample.job].append(sample.duration_ms)
    return dict(durations)


def compute_digest(
    inputs: DigestInputs,
    *,
    period: Period = "day",
    now: datetime,
    k: float = 3.0,
    timezone: str = "UTC",
) -> Digest:
    """The digest of the `period` ending at `now`, its times told in `timezone`; a
    duration regresses beyond its baseline median + k·1.4826·MAD (see
    insights.duration_regression)."""
    window = digest_window(period, now)
    current = tally_by_job(inputs.period_runs)
    previous = tally_by_job(inputs.previous_runs)
    baseline = baseline_by_job(inputs.baseline, window)
    cost = cost_by_job(inputs.baseline, inputs.period_runs, now)
    health = dict(inputs.job_health or {})

    found, checked = _judge(window, current, previous, baseline, k, inputs)
    flagged = {insight.job for insight in found}
    jobs = job_stats(current, previous, health, flagged)
    caching = caching_section(inputs.period_runs, current, previous, cost, inputs.reviews)
    finished = sum(t.finished for t in current.values())
    failures = finished - sum(t.succeeded for t in current.values())
    return Digest(
        period=period,
        start=window.start,
        end=window.end,
        timezone=timezone,
        summary=_summary(window, timezone, finished, failures, caching, found),
        runs=finished,
        failures=failures,
        caching=caching,
        reviews=review_section(inputs.period_runs, inputs.reviews, inputs.feedback),
        jobs=jobs,
        models=model_stats(inputs.period_runs, inputs.previous_runs),
        batching=batching_section(inputs.period_runs),
        insights=found,
        checked=checked,
        notes=_notes(window, current, previous, baseline, caching),
    )


def _durations(values: Sequence[float]) -> insights.Durations:
    return insights.Durations(median(values), mad(values), len(values))


def _judge(
    window: DigestWindow,
    current: Mapping[str, JobTally],
    previous: Mapping[str, JobTally],
    baseline: Mapping[str, list[float]],
    k: float,
    inputs: DigestInputs,
) -> tuple[list[Insight], list[tuple[str, str]]]:
    """Every rule over every job that ran in either period, and health's verdicts:
    the insights found and the (job, metric) pairs there was enough data to judge."""
    found: list[Insight] = []
    checked: list[tuple[str, str]] = []
    empty = JobTally()

    def keep(job: str, metric: str, judgement: insights.Judgement) -> None:
        was_checked, insight = judgement
        if was_checked:
            checked.append((job, metric))
        if insight is not None:
            found.append(insight)

    for job in sorted(set(current) | set(previous)):
        now_tally, before = current.get(job, empty), previous.get(job, empty)
        durations = _durations(now_tally.work_ms), _durations(baseline.get(job, []))
        keep(job, "duration", insights.duration_regression(job, *durations, k))
        for metric in insights.RATE_METRICS:
            hits = now_tally.hits(metric), before.hits(metric)
            keep(job, metric, insights.rate_drop(job, metric, *hits, window.period))
    health, details = inputs.job_health or {}, inputs.health_details or {}
    for job in sorted(health):
        keep(job, "health", insights.health_problem(job, health[job], details.get(job)))
    found.sort(key=lambda i: (SEVERITY_ORDER[i.severity], i.job, i.metric))
    return found, checked


def _summary(
    window: DigestWindow,
    timezone: str,
    runs: int,
    failures: int,
    caching: CachingSection,
    found: Sequence[Insight],
) -> str:
    head = f"{window.period.capitalize()} digest to {local_time(window.end, timezone)}"
    if runs == 0 and not found:
        return f"{head}: no runs in this {window.period} — nothing to report yet"
    alerts = len(found)
    return (
        f"{head}: {words.plural(runs, 'run')}, {words.count(failures)} failed, "
        f"{time_saved_phrase(caching)}, {words.plural(alerts, 'alert')}"
    )


def _notes(
    window: DigestWindow,
    current: Mapping[str, JobTally],
    previous: Mapping[str, JobTally],
    baseline: Mapping[str, list[float]],
    caching: CachingSection,
) -> list[str]:
    notes: list[str] = []
    if not current:
        notes.append(f"No runs in this {window.period}.")
    if not baseline:
        notes.append(
            f"No baseline yet: time saved and duration regressions need successful runs "
            f"from the {BASELINE_DAYS} days before the period."
        )
    thin = sorted(
        job
        for job, tally in current.items()
        if tally.work_ms and 0 < len(baseline.get(job, [])) < insights.MIN_BASELINE_RUNS
    )
    if thin:
        notes.append(
            f"Too few baseline runs (< {insights.MIN_BASELINE_RUNS}) to judge durations of: "
            + ", ".join(thin)
            + "."
        )
    if current and not previous:
        notes.append(f"No runs in the previous {window.period} to compare with.")
    if caching.cached_runs_without_baseline:
        notes.append(
            f"{caching.cached_runs_without_baseline} cached runs have no baseline duration; "
            "their time saved is not counted."
        )
    return notes
