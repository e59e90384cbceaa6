"""The rules that turn a period's figures into insights.

Each rule returns `(checked, insight)`: `checked` is False when there was too
little data to judge (an open alert then stays as it is), and `insight` is None
when the figures are fine.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobs.digest import fmt
from jobs.digest.model import BASELINE_DAYS, Insight
from jobs.digest.stats import MAD_TO_SIGMA, mad, median

# A regression needs this many baseline runs, and the period's median must be at
# least this much above the baseline median on top of the k·MAD test, so a
# near-constant job does not alert on a few percent.
MIN_BASELINE_RUNS = 5
MIN_RELATIVE_INCREASE = 0.20
# Success and cache-hit rates: both periods need this many finished runs, and the
# rate must fall by at least this many percentage points (0.20 = 20 points).
MIN_RATE_RUNS = 5
MIN_RATE_DROP = 0.20

Judgement = tuple[bool, Insight | None]

HEALTH_REASONS = {
    "late": "no run within its schedule's grace period",
    "down": "overdue past twice the grace period, its last run failed, or a run never finished",
}


def duration_regression(
    job: str,
    period_durations: Sequence[float],
    baseline_durations: Sequence[float],
    k: float,
) -> Judgement:
    """The period's median duration is above baseline median + k·1.4826·MAD AND at
    least 20% above the baseline median, with at least 5 baseline runs."""
    current = median(period_durations)
    base = median(baseline_durations)
    spread = mad(baseline_durations)
    if len(baseline_durations) < MIN_BASELINE_RUNS or current is None:
        return False, None
    assert base is not None and spread is not None  # the baseline is non-empty
    threshold = base + k * MAD_TO_SIGMA * spread
    if not (current > threshold and current >= base * (1 + MIN_RELATIVE_INCREASE)):
        return True, None
    # A baseline of 0 ms makes any rise infinite in percent; leave the figure out.
    increase = (current - base) / base * 100 if base else None
    text = (
        f"{job}: median duration {fmt.duration(current)} vs {BASELINE_DAYS}-day median "
        f"{fmt.duration(base)} ({fmt.change(increase) or 'up from zero'}; "
        f"threshold {fmt.duration(threshold)} = "
        f"median + {k:g}·1.4826·MAD {fmt.duration(spread)}; "
        f"{fmt.plural(len(period_durations), 'run')} vs "
        f"{fmt.plural(len(baseline_durations), 'baseline run')})"
    )
    return True, Insight(
        job=job,
        metric="duration",
        severity="critical" if current >= 2 * base else "warning",
        text=text,
        numbers={
            "median_ms": current,
            "baseline_median_ms": base,
            "baseline_mad_ms": spread,
            "threshold_ms": threshold,
            **({} if increase is None else {"increase_pct": increase}),
            "k": k,
            "runs": len(period_durations),
            "baseline_runs": len(baseline_durations),
        },
    )


def _rate_drop(
    job: str,
    metric: str,
    label: str,
    hits: tuple[int, int],
    previous_hits: tuple[int, int],
    period: str,
) -> Judgement:
    (part, whole), (previous_part, previous_whole) = hits, previous_hits
    if whole < MIN_RATE_RUNS or previous_whole < MIN_RATE_RUNS:
        return False, None
    current, previous = part / whole, previous_part / previous_whole
    drop = previous - current
    if drop < MIN_RATE_DROP - 1e-9:
        return True, None
    critical = metric == "success_rate" and current < 0.5
    text = (
        f"{job}: {label} {fmt.rate(current)} ({part}/{whole}) vs {fmt.rate(previous)} "
        f"({previous_part}/{previous_whole}) the previous {period} ({fmt.points(-drop)})"
    )
    return True, Insight(
        job=job,
        metric=metric,
        severity="critical" if critical else "warning",
        text=text,
        numbers={
            "rate": current,
            "previous_rate": previous,
            "drop_points": drop * 100,
            "count": part,
            "runs": whole,
            "previous_count": previous_part,
            "previous_runs": previous_whole,
        },
    )


def success_rate_drop(
    job: str, ok: tuple[int, int], previous_ok: tuple[int, int], period: str
) -> Judgement:
    """Success rate (successes, finished runs) fell by ≥ 20 points vs the previous period."""
    return _rate_drop(job, "success_rate", "success rate", ok, previous_ok, period)


def cache_hit_rate_drop(
    job: str, hits: tuple[int, int], previous_hits: tuple[int, int], period: str
) -> Judgement:
    """Cache hit rate (hits, finished runs) fell by ≥ 20 points vs the previous period."""
    return _rate_drop(job, "cache_hit_rate", "cache hit rate", hits, previous_hits, period)


def health_problem(job: str, state: str, detail: str | None = None) -> Judgement:
    """Health said the job is late or down (up and paused are fine); `detail` is
    health's own account (e.g. which fire time passed), else the general rule."""
    if state not in ("late", "down"):
        return True, None
    return True, Insight(
        job=job,
        metric="health",
        severity="critical" if state == "down" else "warning",
        text=f"{job}: {state} ({detail or HEALTH_REASONS[state]})",
        numbers={"late": float(state == "late"), "down": float(state == "down")},
    )
