"""The digest's sections from the tallies: a row per job and per model, batching,
caching and reviews."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from jobs.digest.figures import (
    BatchingSection,
    CachingSection,
    JobCache,
    JobStats,
    ModelStats,
    RepoReview,
    ReviewSection,
)
from jobs.digest.inputs import FeedbackTotals, ReviewTotals, RunRecord
from jobs.digest.stats import change_pct, percentile, ratio, stdev
from jobs.digest.tallies import JobTally, tally_models
from jobs.runs.system import DIGEST_JOB, HEALTH_JOB

# opsdesk's own jobs by name, for those health knows that did not run in the period.
INTERNAL_JOBS = frozenset({DIGEST_JOB, HEALTH_JOB})


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


def model_stats(
    period_runs: Sequence[RunRecord], previous_runs: Sequence[RunRecord]
) -> list[ModelStats]:
    """Per model: calls, success rate, latency p50/p95/stdev, output tokens per second;
    changes against the previous period. Busiest model first."""
    current, previous = tally_models(period_runs), tally_models(previous_runs)
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
    job's run costs without it (compute.cost_by_job); review prompt tokens sent vs a
    full review's."""
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
        muted=totals.muted,
        repos=[
            RepoReview(
                repo=r.repo,
                new=r.new,
                fixed=r.fixed,
                open=r.open,
                suppressed=r.suppressed,
                muted=r.muted,
                marked_false_positive=r.marked_false_positive,
            )
            for r in totals.per_repo
        ],
    )
