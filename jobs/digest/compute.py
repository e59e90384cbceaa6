"""compute_digest: run records and review aggregates in (`inputs.py`), a `Digest` out
(`figures.py`). Pure. The runs are tallied once (`tallies.py`), each section made
from the tallies (`sections.py`), each rule judged (`insights.py`).

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
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from jobs.core import text as words
from jobs.core.when import local_time
from jobs.digest import insights
from jobs.digest.figures import SEVERITY_ORDER, CachingSection, Digest, Insight, time_saved_phrase
from jobs.digest.inputs import DigestInputs, DigestWindow, Period, RunRecord, digest_window
from jobs.digest.sections import (
    batching_section,
    caching_section,
    job_stats,
    model_stats,
    review_section,
)
from jobs.digest.stats import mad, median
from jobs.digest.tallies import JobTally, tally_by_job
from jobs.runs.baseline import BASELINE_DAYS, DurationSample


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
