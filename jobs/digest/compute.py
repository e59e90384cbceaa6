"""compute_digest: run records and review aggregates in, a `Digest` out. Pure.

Sizes the storage layer should expect to pass (a 1,000,000-run history): the
period's and the previous period's runs raw (a day is a few thousand rows, read
as `RunRecord`s of a dozen columns), the baseline as `DurationSample`s of
successful non-cached runs only (may be capped to the latest few hundred per
job), and reviews and feedback as totals a GROUP BY returns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from jobs.digest import fmt, insights
from jobs.digest.model import (
    BASELINE_DAYS,
    CachingSection,
    Digest,
    DigestWindow,
    DurationSample,
    FeedbackTotals,
    Insight,
    Period,
    ReviewTotals,
    RunRecord,
    digest_window,
)
from jobs.digest.sections import (
    JobTally,
    batching_section,
    caching_section,
    job_stats,
    model_stats,
    review_section,
    tally_by_job,
    time_saved_phrase,
)
from jobs.digest.stats import median

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


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
    period_runs: Sequence[RunRecord],
    baseline_runs: Sequence[DurationSample],
    previous_period_runs: Sequence[RunRecord],
    reviews: ReviewTotals | None = None,
    feedback: FeedbackTotals | None = None,
    *,
    period: Period = "day",
    now: datetime,
    k: float = 3.0,
    job_health: Mapping[str, str] | None = None,
    health_details: Mapping[str, str] | None = None,
) -> Digest:
    """The digest of the period ending at `now` (see `digest_window` for the ranges
    each input should cover). `job_health` maps job → up | late | down | paused;
    without it health is not judged and health alerts are left alone.
    `health_details` maps job → health's reason, quoted in the insight."""
    window = digest_window(period, now)
    current = tally_by_job(period_runs)
    previous = tally_by_job(previous_period_runs)
    baseline = baseline_by_job(baseline_runs, window)
    baseline_median = {job: median(values) for job, values in baseline.items()}
    health = dict(job_health or {})

    found, checked = _judge(window, current, previous, baseline, health, k, health_details or {})
    flagged = {insight.job for insight in found}
    jobs = job_stats(current, previous, health, flagged)
    caching = caching_section(period_runs, current, previous, baseline_median, reviews)
    finished = sum(t.finished for t in current.values())
    failures = finished - sum(t.succeeded for t in current.values())
    return Digest(
        period=period,
        start=window.start,
        end=window.end,
        summary=_summary(window, finished, failures, caching, found),
        runs=finished,
        failures=failures,
        caching=caching,
        reviews=review_section(period_runs, reviews, feedback),
        jobs=jobs,
        models=model_stats(period_runs, previous_period_runs),
        batching=batching_section(period_runs),
        insights=found,
        checked=checked,
        notes=_notes(window, current, previous, baseline, caching),
    )


def _judge(
    window: DigestWindow,
    current: Mapping[str, JobTally],
    previous: Mapping[str, JobTally],
    baseline: Mapping[str, list[float]],
    health: Mapping[str, str],
    k: float,
    health_details: Mapping[str, str],
) -> tuple[list[Insight], list[tuple[str, str]]]:
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
        keep(
            job,
            "duration",
            insights.duration_regression(job, now_tally.work_ms, baseline.get(job, []), k),
        )
        keep(
            job,
            "success_rate",
            insights.success_rate_drop(
                job,
                (now_tally.succeeded, now_tally.finished),
                (before.succeeded, before.finished),
                window.period,
            ),
        )
        keep(
            job,
            "cache_hit_rate",
            insights.cache_hit_rate_drop(
                job,
                (now_tally.cache_hits, now_tally.finished),
                (before.cache_hits, before.finished),
                window.period,
            ),
        )
    for job in sorted(health):
        keep(job, "health", insights.health_problem(job, health[job], health_details.get(job)))
    found.sort(key=lambda i: (SEVERITY_ORDER[i.severity], i.job, i.metric))
    return found, checked


def _summary(
    window: DigestWindow,
    runs: int,
    failures: int,
    caching: CachingSection,
    found: Sequence[Insight],
) -> str:
    head = f"{window.period.capitalize()} digest to {window.end:%Y-%m-%d %H:%M} UTC"
    if runs == 0 and not found:
        return f"{head}: no runs in this {window.period} — nothing to report yet"
    alerts = len(found)
    return (
        f"{head}: {fmt.plural(runs, 'run')}, {fmt.count(failures)} failed, "
        f"{time_saved_phrase(caching)}, {fmt.plural(alerts, 'alert')}"
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
