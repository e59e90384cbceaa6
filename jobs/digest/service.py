"""The digest against the database: read the window's rows, compute, chart, post.

`build_digest` answers /digest and `opsdesk digest`; `post_daily_digest` is what the
scheduler's `digest` job kind calls once a day at `digest_schedule(config)`.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from jobs import outbox
from jobs.config.schema import Config, parse_duration
from jobs.digest import queries
from jobs.digest.alerts import AlertDecision, AlertRecord, decide_alerts, decide_digest_alerts
from jobs.digest.chart import DEFAULT_DAYS, daily_hit_rates, daily_medians, last_chart_day
from jobs.digest.chart import render_chart as draw_chart
from jobs.digest.compute import compute_digest
from jobs.digest.model import (
    DayCount,
    Digest,
    DurationSample,
    FeedbackTotals,
    Insight,
    Period,
    ReviewTotals,
    RunRecord,
    digest_window,
)
from jobs.digest.reply import alert_reply, digest_reply
from jobs.health import health_report, job_health
from jobs.system_jobs import digest_timezone
from storage.db import session_scope
from storage.extras import MissingExtra
from storage.models import AlertState

log = logging.getLogger(__name__)

# Where the daily digest goes when no target is configured: the log, so it is seen.
LOG_TARGET = "log:digest"
_alert_states = AlertState.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DigestInputs:
    """Everything one digest (and its chart) reads from the database."""

    now: datetime
    period: Period
    period_runs: list[RunRecord]
    previous_runs: list[RunRecord]
    samples: list[DurationSample]  # baseline window; the chart's days are inside it
    day_counts: list[DayCount]
    reviews: ReviewTotals | None
    feedback: FeedbackTotals | None


def load_inputs(connection: Connection, period: Period, now: datetime) -> DigestInputs:
    """One connection, a handful of range queries on `started_at`."""
    window = digest_window(period, now)
    chart_start = datetime.combine(
        last_chart_day(now) - timedelta(days=DEFAULT_DAYS - 1), datetime.min.time(), now.tzinfo
    )
    has_reviews = queries.has_review_data(connection)
    return DigestInputs(
        now=now,
        period=period,
        period_runs=queries.period_runs(connection, window.start, window.end),
        previous_runs=queries.period_runs(connection, window.previous_start, window.start),
        samples=queries.duration_samples(connection, window.baseline_start, window.start),
        day_counts=queries.day_counts(connection, chart_start, now),
        reviews=queries.review_totals(connection, window.start, now) if has_reviews else None,
        feedback=queries.feedback_totals(connection, window.start, now) if has_reviews else None,
    )


def compute(
    inputs: DigestInputs, config: Config, health: dict[str, tuple[str, str]] | None
) -> Digest:
    return compute_digest(
        inputs.period_runs,
        inputs.samples,
        inputs.previous_runs,
        inputs.reviews,
        inputs.feedback,
        period=inputs.period,
        now=inputs.now,
        k=config.digest.regression_k,
        job_health=None if health is None else {job: s for job, (s, _) in health.items()},
        health_details=None if health is None else {job: d for job, (_, d) in health.items()},
    )


def render_chart(inputs: DigestInputs) -> bytes:
    """The PNG of the 14 days to `now`: median duration per job, cache hit rate.
    MissingExtra without the 'charts' extra."""
    medians = daily_medians(inputs.samples, inputs.period_runs, end=inputs.now)
    return draw_chart(
        medians, daily_hit_rates(inputs.day_counts), last_day=last_chart_day(inputs.now)
    )


def chart_if_possible(inputs: DigestInputs) -> tuple[bytes | None, str | None]:
    """The chart, or None and the note that says why there is none: the digest's
    text is worth posting without it."""
    try:
        return render_chart(inputs), None
    except MissingExtra as exc:
        return None, f"No chart: {exc}."
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        log.exception("the digest's chart could not be drawn")
        return None, "No chart: it could not be drawn (see the log)."


def build_digest(
    engine: Engine,
    config: Config,
    period: Period,
    now: datetime,
    *,
    with_health: bool = True,
) -> Digest:
    """The digest of the day or week ending at `now` (aware UTC). With `with_health`
    scheduled jobs that are late or down become insights."""
    with engine.connect() as connection:
        inputs = load_inputs(connection, period, now)
    health = job_health(engine, config, now) if with_health else None
    return compute(inputs, config, health)


def build_digest_with_chart(
    engine: Engine, config: Config, period: Period, now: datetime
) -> tuple[Digest, bytes | None]:
    """The digest and its chart from one read of the database. Without a chart (no
    'charts' extra, or drawing failed) the digest's notes say why."""
    with engine.connect() as connection:
        inputs = load_inputs(connection, period, now)
    digest = compute(inputs, config, job_health(engine, config, now))
    chart, why_not = chart_if_possible(inputs)
    if why_not is not None:
        digest = digest.model_copy(update={"notes": [*digest.notes, why_not]})
    return digest, chart


def _read_alert_states(connection: Connection) -> list[AlertRecord]:
    rows = connection.execute(
        select(
            _alert_states.c.job,
            _alert_states.c.metric,
            _alert_states.c.state,
            _alert_states.c.changed_at,
            _alert_states.c.last_posted_at,
            _alert_states.c.detail,
        )
    )
    return [AlertRecord(*row) for row in rows]


def post_daily_digest(engine: Engine, config: Config, now: datetime) -> list[int]:
    """Build the day's digest and chart, apply alert transitions, and enqueue the posts
    to `digest.post_to` (else the log); returns the outbox ids.

    Idempotent per local day: the digest's dedupe key is `digest:<local date>` and an
    alert's `alert:<job>:<metric>:<kind>:<local date>`. Posts are enqueued before the
    alert states are written, so a crash in between repeats no post (the keys match)
    rather than losing one.
    """
    digest, chart = build_digest_with_chart(engine, config, "day", now)
    local_day = now.astimezone(ZoneInfo(digest_timezone(config))).date().isoformat()
    targets = config.digest.post_to or [LOG_TARGET]
    ids = outbox.enqueue(
        engine,
        kind="digest",
        targets=targets,
        reply=digest_reply(digest, chart, config.operator.public_url),
        dedupe_key=f"digest:{local_day}",
    )
    cooldown = parse_duration(config.digest.alert_cooldown)
    with engine.connect() as connection:
        states = _read_alert_states(connection)
    decision = decide_digest_alerts(digest, states, now, cooldown)
    ids += _apply(engine, decision, targets, f"{local_day}")
    log.info(
        "daily digest for %s: %d runs, %d insights, %d alert posts",
        local_day,
        digest.runs,
        len(digest.insights),
        len(decision.posts),
    )
    return ids


def _apply(engine: Engine, decision: AlertDecision, targets: list[str], stamp: str) -> list[int]:
    """Enqueue the decision's posts (deduped by `stamp`), then write its states."""
    ids: list[int] = []
    for post in decision.posts:
        ids += outbox.enqueue(
            engine,
            kind="alert",
            targets=targets,
            reply=alert_reply(post),
            dedupe_key=f"alert:{post.job}:{post.metric}:{post.kind}:{stamp}",
        )
    with session_scope(engine) as session:
        for record in decision.updates:
            row = session.get(AlertState, (record.job, record.metric))
            if row is None:
                row = AlertState(job=record.job, metric=record.metric)
            row.state = record.state
            row.changed_at = record.changed_at
            row.last_posted_at = record.last_posted_at
            row.detail = record.detail
            session.add(row)
    return ids


def post_health_alerts(
    engine: Engine,
    config: Config,
    now: datetime,
    *,
    data_dir: Path,
    llm_api_key: str | None = None,
) -> list[int]:
    """The scheduler's `health` job: check every component and post on changes only.

    Alert state is kept per component (a job's is (job, "health"), shared with the
    digest's job-health insights, so a problem is announced once whoever sees it
    first). Paused and up are fine; late and down alert. Returns the outbox ids."""
    report = health_report(
        engine,
        config,
        config_source="scheduled health check",
        data_dir=data_dir,
        now=now,
        llm_api_key=llm_api_key,
    )
    found: list[Insight] = []
    checked: list[tuple[str, str]] = []
    for component in report.components:
        key = component.data.get("job") or f"component:{component.name}"
        checked.append((key, "health"))
        if component.status in ("late", "degraded", "down"):
            found.append(
                Insight(
                    job=key,
                    metric="health",
                    severity="critical" if component.status == "down" else "warning",
                    text=f"{component.name}: {component.status} — {component.detail}",
                    numbers={"down": float(component.status == "down")},
                )
            )
    with engine.connect() as connection:
        states = _read_alert_states(connection)
    cooldown = parse_duration(config.digest.alert_cooldown)
    decision = decide_alerts(found, checked, states, now, cooldown)
    targets = config.digest.post_to or [LOG_TARGET]
    return _apply(engine, decision, targets, now.strftime("%Y-%m-%dT%H:%M"))
