"""The digest against the database, and the `digest` and `health` job kinds.

`digest_answer` answers /digest and a digest run by hand, `build_digest` `opsdesk
digest` and the operator page; `post_daily_digest` is what the scheduler's `digest`
job kind calls once a day at `digest_schedule(config)`, `post_health_alerts` what
its `health` job calls. Both post through the outbox themselves (deduplicated per
day or per change), so the run's own reply is not posted.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from jobs.context import Context
from jobs.core.reply import Block, Reply
from jobs.core.text import plural
from jobs.digest.chart import ChartRequest, day_bars, job_bars, last_chart_day
from jobs.digest.chart import render_chart as draw_chart
from jobs.digest.compute import compute_digest
from jobs.digest.figures import Digest, Insight
from jobs.digest.inputs import DigestInputs, Period
from jobs.digest.insights import AlertDecision, AlertRecord, decide_alerts, decide_digest_alerts
from jobs.digest.queries import load_inputs
from jobs.digest.replies import alert_reply, digest_reply
from jobs.health.checks import health_report
from jobs.health.scheduled import job_health
from jobs.outbox import delivery as outbox
from jobs.runs.incidents import alert_thread
from jobs.runs.job import JobOutcome, RunContext
from jobs.runs.system import digest_timezone
from jobs.usage.outlook import month_outlook
from storage.db import session_scope
from storage.extras import MissingExtra
from storage.models import AlertState

log = logging.getLogger(__name__)

# Where the daily digest goes when no target is configured: the log, so it is seen.
LOG_TARGET = "log:digest"
_alert_states = AlertState.__table__  # type: ignore[attr-defined]


def _read(context: Context, period: Period, now: datetime, *, with_health: bool) -> DigestInputs:
    """The database's inputs, with job health (late and down become insights) when asked."""
    with context.engine.connect() as connection:
        inputs = load_inputs(connection, period, now, digest_timezone(context.config))
    if not with_health:
        return inputs
    health = job_health(context, now)
    states = {job: state for job, (state, _) in health.items()}
    details = {job: detail for job, (_, detail) in health.items()}
    return replace(inputs, job_health=states, health_details=details)


def _compute(context: Context, inputs: DigestInputs, period: Period, now: datetime) -> Digest:
    config = context.config
    k = config.digest.regression_k
    return compute_digest(inputs, period=period, now=now, k=k, timezone=digest_timezone(config))


def build_digest(
    context: Context, period: Period, now: datetime, *, with_health: bool = True
) -> Digest:
    """The digest of the day or week ending at `now` (aware UTC). With `with_health`
    scheduled jobs that are late or down become insights."""
    inputs = _read(context, period, now, with_health=with_health)
    return _compute(context, inputs, period, now)


def chart_png(digest: Digest, inputs: DigestInputs) -> bytes:
    """The PNG of the digest: its jobs' typical durations (flagged ones highlighted,
    failures marked) and the 14 days' runs to its end, in the team's days.
    MissingExtra without the 'charts' extra."""
    jobs = job_bars(digest)
    days = day_bars(inputs.day_counts, last_chart_day(digest.end, digest.timezone))
    label = "Last day" if digest.period == "day" else "Last week"
    return draw_chart(ChartRequest(jobs, days, label))


def digest_chart(context: Context, period: Period, now: datetime) -> bytes:
    """The digest's chart alone (the operator page's image)."""
    inputs = _read(context, period, now, with_health=True)
    return chart_png(_compute(context, inputs, period, now), inputs)


def _chart_if_possible(digest: Digest, inputs: DigestInputs) -> tuple[bytes | None, str | None]:
    """The chart, or None and the note that says why there is none: the digest's
    text is worth posting without it."""
    try:
        return chart_png(digest, inputs), None
    except MissingExtra as exc:
        return None, f"No chart: {exc}."
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        log.exception("the digest's chart could not be drawn")
        return None, "No chart: it could not be drawn (see the log)."


def build_digest_with_chart(
    context: Context, period: Period, now: datetime
) -> tuple[Digest, bytes | None]:
    """The digest and its chart from one read of the database. Without a chart (no
    'charts' extra, or drawing failed) the digest's notes say why."""
    inputs = _read(context, period, now, with_health=True)
    digest = _compute(context, inputs, period, now)
    chart, why_not = _chart_if_possible(digest, inputs)
    if why_not is not None:
        digest = digest.model_copy(update={"notes": [*digest.notes, why_not]})
    return digest, chart


def digest_answer(context: Context, period: Period, now: datetime) -> Reply:
    """The digest with its chart as a reply, wherever it is shown (a command, a run by
    hand, the daily post), linking the operator page when it has a public address."""
    digest, chart = build_digest_with_chart(context, period, now)
    return with_outlook(context, digest_reply(digest, chart, context.config.operator.public_url))


def with_outlook(context: Context, reply: Reply) -> Reply:
    """The digest with the month's model usage against its budgets and the forecast."""
    lines = month_outlook(context)
    if not lines:
        return reply
    block = Block(text="Model usage this month:\n" + "\n".join(lines))
    return reply.model_copy(update={"blocks": [*reply.blocks, block]})


# ---- posting ------------------------------------------------------------------------------


def _read_alert_states(context: Context) -> list[AlertRecord]:
    columns = _alert_states.c
    query = select(
        columns.job,
        columns.metric,
        columns.state,
        columns.changed_at,
        columns.last_posted_at,
        columns.detail,
    )
    with context.engine.connect() as connection:
        return [AlertRecord(*row) for row in connection.execute(query)]


def _targets(context: Context) -> list[str]:
    return context.config.digest.post_to or [LOG_TARGET]


def post_daily_digest(context: Context, now: datetime) -> list[int]:
    """Build the day's digest and chart, apply alert transitions, and enqueue the posts
    to `digest.post_to` (else the log); returns the outbox ids.

    Idempotent per local day: the digest's dedupe key is `digest:<local date>` and an
    alert's `alert:<job>:<metric>:<kind>:<local date>`. Posts are enqueued before the
    alert states are written, so a crash in between repeats no post (the keys match)
    rather than losing one.
    """
    config = context.config
    digest, chart = build_digest_with_chart(context, "day", now)
    local_day = now.astimezone(ZoneInfo(digest_timezone(config))).date().isoformat()
    ids = outbox.enqueue(
        context.engine,
        kind="digest",
        targets=_targets(context),
        reply=with_outlook(context, digest_reply(digest, chart, config.operator.public_url)),
        dedupe_key=f"digest:{local_day}",
    )
    cooldown = config.digest.alert_cooldown
    decision = decide_digest_alerts(digest, _read_alert_states(context), now, cooldown)
    ids += _apply(context, decision, local_day)
    log.info(
        "daily digest for %s: %d runs, %d insights, %d alert posts",
        local_day,
        digest.runs,
        len(digest.insights),
        len(decision.posts),
    )
    return ids


def _apply(context: Context, decision: AlertDecision, stamp: str) -> list[int]:
    """Enqueue the decision's posts (deduped by `stamp`), then write its states."""
    ids: list[int] = []
    engine = context.engine
    for post in decision.posts:
        for target in _targets(context):
            # In the thread of the failure that began the incident, where it was posted.
            ids += outbox.enqueue(
                engine,
                kind="alert",
                targets=[target],
                reply=alert_reply(post),
                dedupe_key=f"alert:{post.job}:{post.metric}:{post.kind}:{stamp}",
                thread_of=alert_thread(engine, post.job, post.metric, post.kind, target),
            )
    with session_scope(context.engine) as session:
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


def post_health_alerts(context: Context, now: datetime) -> list[int]:
    """The scheduler's `health` job: check every component and post on changes only.

    Alert state is kept per component (a job's is (job, "health"), shared with the
    digest's job-health insights, so a problem is announced once whoever sees it
    first). Paused and up are fine; late and down alert. Returns the outbox ids."""
    report = health_report(replace(context, config_source="scheduled health check"), now=now)
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
                    headline=f"{component.name} is {component.status}: {component.detail}",
                    text=f"{component.name}: {component.status} — {component.detail}",
                    numbers={"down": float(component.status == "down")},
                )
            )
    cooldown = context.config.digest.alert_cooldown
    decision = decide_alerts(found, checked, _read_alert_states(context), now, cooldown)
    return _apply(context, decision, now.strftime("%Y-%m-%dT%H:%M"))


# ---- the job kinds ------------------------------------------------------------------------


def run_digest_job(run: RunContext) -> JobOutcome:
    """Scheduled: the daily post, deduplicated against itself only (per local day).
    Run by hand: the digest answers the person who asked and posts nothing, so the
    day's scheduled post still goes out."""
    context = run.context
    if run.trigger != "schedule":
        reply = digest_answer(context, "day", context.clock())
        return JobOutcome(status="ok", output="digest sent to whoever ran it", reply=reply)
    posts = post_daily_digest(context, context.clock())
    return JobOutcome(status="ok", output=f"daily digest enqueued: {plural(len(posts), 'post')}")


def run_health_job(run: RunContext) -> JobOutcome:
    posts = post_health_alerts(run.context, run.context.clock())
    return JobOutcome(status="ok", output=f"health checked: {plural(len(posts), 'change')} posted")
