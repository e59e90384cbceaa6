"""Insights and alerts: the rules that turn a period's figures into insights, and the
alert transitions that decide which of them to post. Pure.

Each rule returns `(checked, insight)`: `checked` is False when there was too little
data to judge (an open alert then stays as it is), and `insight` is None when the
figures are fine. The rules take figures (medians, MADs, counts) that compute.py
works out, so this module knows no run rows.

Alert transitions per (job, metric) post on change, not every day:
- ok -> alert: the state changes; posted unless something about this (job, metric)
  was posted within the cooldown (a flapping alert is not re-posted).
- alert -> alert: nothing, except that an alert held back by the cooldown is posted
  once the cooldown has passed and it is still on.
- alert -> ok: the state changes; a "recovered" post is made only when the alert
  itself was posted (nobody needs to hear about the end of an alert they never saw).
- a (job, metric) that was not checked this time (too little data) keeps its state.

An episode was announced when `last_posted_at >= changed_at`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from jobs.core import text as words
from jobs.digest.figures import Digest, Insight
from jobs.runs.baseline import BASELINE_DAYS

# Scales the MAD so that it estimates the standard deviation of normal data.
MAD_TO_SIGMA = 1.4826
# A regression needs this many baseline runs, and the period's median must be at
# least this much above the baseline median on top of the k·MAD test, so a
# near-constant job does not alert on a few percent.
MIN_BASELINE_RUNS = 5
MIN_RELATIVE_INCREASE = 0.20
# Success and cache-hit rates: both periods need this many finished runs, and the
# rate must fall by at least this many percentage points (0.20 = 20 points).
MIN_RATE_RUNS = 5
MIN_RATE_DROP = 0.20
# Severity that fits: a job that got slower is worth a warning (and an alert post)
# only when it takes at least twice as long AND a minute more; a batch job 5 s slower
# is news for the digest, not an alert. Only failures are ever critical.
SLOWER_WARNING_MS = 60_000

# What each metric is called in a sentence; the rate metrics are judged alike.
METRIC_LABELS = {
    "duration": "duration",
    "success_rate": "success rate",
    "cache_hit_rate": "cache hit rate",
    "health": "health",
}
RATE_METRICS = ("success_rate", "cache_hit_rate")

HEALTH_REASONS = {
    "late": "no run within its schedule's grace period",
    "down": "overdue past twice the grace period, its last run failed, or a run never finished",
}


Judgement = tuple[bool, Insight | None]


class Durations(NamedTuple):
    """A set of run durations as the regression rule reads it."""

    median: float | None
    mad: float | None
    runs: int


def duration_regression(job: str, period: Durations, baseline: Durations, k: float) -> Judgement:
    """The period's median duration is above baseline median + k·1.4826·MAD AND at
    least 20% above the baseline median, with at least 5 baseline runs."""
    current, base, spread = period.median, baseline.median, baseline.mad
    if baseline.runs < MIN_BASELINE_RUNS or current is None:
        return False, None
    assert base is not None and spread is not None  # the baseline is non-empty
    threshold = base + k * MAD_TO_SIGMA * spread
    if not (current > threshold and current >= base * (1 + MIN_RELATIVE_INCREASE)):
        return True, None
    # A baseline of 0 ms makes any rise infinite in percent; leave the figure out.
    increase = (current - base) / base * 100 if base else None
    text = (
        f"{job}: median duration {words.duration(current)} vs {BASELINE_DAYS}-day median "
        f"{words.duration(base)} ({words.change(increase) or 'up from zero'}; "
        f"threshold {words.duration(threshold)} = "
        f"median + {k:g}·1.4826·MAD {words.duration(spread)}; "
        f"{words.plural(period.runs, 'run')} vs "
        f"{words.plural(baseline.runs, 'baseline run')})"
    )
    slower_enough = current >= 2 * base and current - base >= SLOWER_WARNING_MS
    return True, Insight(
        job=job,
        metric="duration",
        severity="warning" if slower_enough else "info",
        headline=f"{job} got slower: {words.duration(current)} typical, was {words.duration(base)}",
        text=text,
        numbers={
            "median_ms": current,
            "baseline_median_ms": base,
            "baseline_mad_ms": spread,
            "threshold_ms": threshold,
            **({} if increase is None else {"increase_pct": increase}),
            "k": k,
            "runs": period.runs,
            "baseline_runs": baseline.runs,
        },
    )


def rate_drop(
    job: str, metric: str, hits: tuple[int, int], previous_hits: tuple[int, int], period: str
) -> Judgement:
    """A rate (hits, finished runs) — success or cache hit — fell by ≥ 20 points vs the
    previous period."""
    (part, whole), (previous_part, previous_whole) = hits, previous_hits
    if whole < MIN_RATE_RUNS or previous_whole < MIN_RATE_RUNS:
        return False, None
    current, previous = part / whole, previous_part / previous_whole
    drop = previous - current
    if drop < MIN_RATE_DROP - 1e-9:
        return True, None
    critical = metric == "success_rate" and current < 0.5
    if metric == "success_rate":
        headline = f"{job} fails more often: {part} of {whole} runs ok, was {words.rate(previous)}"
    else:
        headline = f"{job} hits its cache less: {words.rate(current)}, was {words.rate(previous)}"
    text = (
        f"{job}: {METRIC_LABELS[metric]} {words.rate(current)} ({part}/{whole}) vs "
        f"{words.rate(previous)} ({previous_part}/{previous_whole}) the previous {period} "
        f"({words.points(-drop)})"
    )
    return True, Insight(
        job=job,
        metric=metric,
        severity="critical" if critical else ("warning" if metric == "success_rate" else "info"),
        headline=headline,
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


def health_problem(job: str, state: str, detail: str | None = None) -> Judgement:
    """Health said the job is late or down (up and paused are fine); `detail` is
    health's own account (e.g. which fire time passed), else the general rule."""
    if state not in ("late", "down"):
        return True, None
    why = detail or HEALTH_REASONS[state]
    return True, Insight(
        job=job,
        metric="health",
        severity="critical" if state == "down" else "warning",
        headline=f"{job} is {state}: {why}",
        text=f"{job}: {state} ({why})",
        numbers={"late": float(state == "late"), "down": float(state == "down")},
    )


# ---- alerts -----------------------------------------------------------------------------

AlertLevel = Literal["ok", "alert"]


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """An AlertState row: storage reads these in and writes changed ones back."""

    job: str
    metric: str
    state: AlertLevel
    changed_at: datetime
    last_posted_at: datetime | None = None
    detail: str = ""

    @property
    def announced(self) -> bool:
        return self.last_posted_at is not None and self.last_posted_at >= self.changed_at


@dataclass(frozen=True, slots=True)
class AlertPost:
    """A post to make: an alert (with its insight) or a recovery."""

    job: str
    metric: str
    kind: Literal["alert", "recovered"]
    text: str
    insight: Insight | None = None


@dataclass(frozen=True, slots=True)
class AlertDecision:
    updates: list[AlertRecord]  # rows to upsert; unchanged rows are not listed
    posts: list[AlertPost]


def _cooled(record: AlertRecord | None, now: datetime, cooldown: timedelta) -> bool:
    if record is None or record.last_posted_at is None:
        return True
    return now - record.last_posted_at >= cooldown


def decide_alerts(
    insights: Iterable[Insight],
    checked: Collection[tuple[str, str]],
    states: Sequence[AlertRecord],
    now: datetime,
    cooldown: timedelta,
) -> AlertDecision:
    """Which alert states change and which posts to make (see the module's rules)."""
    stored = {(s.job, s.metric): s for s in states}
    active = {(i.job, i.metric): i for i in insights}
    checked_keys = set(checked) | set(active)
    updates: list[AlertRecord] = []
    posts: list[AlertPost] = []

    for key in sorted(checked_keys):
        record = stored.get(key)
        insight = active.get(key)
        job, metric = key
        if insight is not None:
            if record is None or record.state == "ok":
                post = _cooled(record, now, cooldown)
                posted_before = record.last_posted_at if record else None
                updates.append(
                    AlertRecord(
                        job=job,
                        metric=metric,
                        state="alert",
                        changed_at=now,
                        last_posted_at=now if post else posted_before,
                        detail=insight.text,
                    )
                )
            else:
                post = not record.announced and _cooled(record, now, cooldown)
                if post:
                    updates.append(replace(record, last_posted_at=now, detail=insight.text))
            if post:
                posts.append(AlertPost(job, metric, "alert", insight.headline, insight))
        elif record is not None and record.state == "alert":
            post = record.announced
            updates.append(
                replace(
                    record,
                    state="ok",
                    changed_at=now,
                    last_posted_at=now if post else record.last_posted_at,
                    detail="",
                )
            )
            if post:
                text = f"{job}: {METRIC_LABELS.get(metric, metric)} recovered"
                posts.append(AlertPost(job, metric, "recovered", text))
    return AlertDecision(updates=updates, posts=posts)


def decide_digest_alerts(
    digest: Digest, states: Sequence[AlertRecord], now: datetime, cooldown: timedelta
) -> AlertDecision:
    """decide_alerts for one digest's insights and checked pairs. Insights of severity
    info (a job a few seconds slower, a cache hit less often) are the digest's news,
    never an alert of their own."""
    alerting = [i for i in digest.insights if i.severity != "info"]
    return decide_alerts(alerting, digest.checked, states, now, cooldown)
