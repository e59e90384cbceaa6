"""Each scheduled job up, late, down or paused — from its schedule and its last run
rows at read time, as healthchecks' `get_status()` does; nothing is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, true
from sqlalchemy.engine import Connection

from jobs.config.schema import Config, JobConfig, schedule_from
from jobs.context import Context
from jobs.core.text import span
from jobs.health.component import Component, Status
from jobs.runs.job import JobSpec
from jobs.runs.specs import job_specs
from storage.heartbeats import read_heartbeat
from storage.models import JobRun, JobState

_runs = JobRun.__table__  # type: ignore[attr-defined]
_states = JobState.__table__  # type: ignore[attr-defined]

# Run statuses that count as the job working; "missed" (the scheduler could not start
# it in time) makes it late, any other failure down.
_GOOD = frozenset({"ok", "cached"})


# The digest and health jobs are quick; a run this long is stuck.
SYSTEM_JOB_ALLOWANCE = timedelta(minutes=10)


@dataclass(frozen=True)
class ScheduledJob:
    """A job the scheduler fires: its run-record name, schedule and time allowance."""

    name: str
    schedule: str  # "0 9 * * *" or "every 15m"
    timezone: str
    # How long one run may take before a still-running run counts as down (plus grace).
    run_allowance: timedelta


def scheduled_jobs(config: Config) -> list[ScheduledJob]:
    """Every job the scheduler fires, from the same list it reads (jobs/runs/specs.py):
    batch members under their batch's schedule, the others under their own."""
    default = config.scheduler.timezone
    batch_schedule = {b.name: b.schedule for b in config.batches}
    found: list[ScheduledJob] = []
    for spec in job_specs(config):
        schedule = batch_schedule.get(spec.batch) if spec.batch else spec.schedule
        if schedule:
            found.append(
                ScheduledJob(
                    spec.name, schedule, spec.timezone or default, _allowance(spec, config)
                )
            )
    return found


def _allowance(spec: JobSpec, config: Config) -> timedelta:
    """How long one run of the job may take: a command its timeout, a review every
    model attempt of every pass, opsdesk's own jobs a fixed while."""
    if isinstance(spec.source, JobConfig):
        return spec.source.timeout
    if spec.kind == "review":
        llm = config.reviewer.llm
        return timedelta(seconds=llm.timeout_s * (llm.max_retries + 1) * llm.passes)
    return SYSTEM_JOB_ALLOWANCE


def next_fire_after(schedule: str, timezone: str, after: datetime) -> datetime | None:
    """The schedule's first fire time strictly after `after` (aware UTC)."""
    spec = schedule_from(schedule)
    assert spec is not None
    if spec.every is not None:
        # An interval counts from the last run (or the scheduler's start).
        return after + spec.every
    trigger = CronTrigger.from_crontab(spec.cron or "", timezone=timezone)
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return None if fire is None else fire.astimezone(UTC)


def _next_fire(job: ScheduledJob, last: LastRuns, now: datetime) -> datetime | None:
    """The job's next fire as /jobs tells it: an interval counts from its last run."""
    spec = schedule_from(job.schedule)
    if spec is None or spec.every is None or last.latest is None:
        return next_fire_after(job.schedule, job.timezone, now - timedelta(microseconds=1))
    upcoming = last.latest[1] + spec.every
    while upcoming <= now:
        upcoming += spec.every
    return upcoming


@dataclass(frozen=True)
class LastRuns:
    latest: tuple[str, datetime, datetime | None] | None  # status, started, finished
    latest_finished: tuple[str, datetime, datetime | None] | None


def _last_runs(connection: Connection, job: str) -> LastRuns:
    # Two rows at most through the (job, started_at) index: the latest run, and the
    # one before it for when the latest is still running.
    rows = connection.execute(
        select(_runs.c.status, _runs.c.started_at, _runs.c.finished_at)
        .where(_runs.c.job == job)
        .order_by(_runs.c.started_at.desc())
        .limit(2)
    ).all()
    latest = tuple(rows[0]) if rows else None
    finished = next((tuple(r) for r in rows if r[0] != "running"), None)
    return LastRuns(latest, finished)


def job_status(
    job: ScheduledJob,
    last: LastRuns,
    *,
    paused: bool,
    scheduler_started: datetime | None,
    now: datetime,
    grace: timedelta,
) -> Component:
    """One job's state, derived as healthchecks does: from its schedule, its last runs
    and a grace period. Fire times before the job's last run (or, if it never ran,
    before the scheduler started) are not expected."""
    name = f"job {job.name}"
    upcoming = _next_fire(job, last, now)
    data: dict[str, Any] = {
        "job": job.name,
        "schedule": job.schedule,
        "next_fire": upcoming.isoformat() if upcoming else None,
        "last_run": last.latest[1].isoformat() if last.latest else None,
        "last_status": last.latest[0] if last.latest else None,
    }
    if paused:
        return Component(name, "paused", "paused by an admin", data)
    if last.latest is not None and last.latest[0] == "running":
        running_for = now - last.latest[1]
        if running_for > job.run_allowance + grace:
            return Component(
                name,
                "down",
                f"a run started {span(running_for)} ago has not finished "
                f"(allowed {span(job.run_allowance + grace)})",
                data,
            )
    if last.latest_finished is not None and last.latest_finished[0] not in _GOOD:
        status, started, _ = last.latest_finished
        state: Status = "late" if status == "missed" else "down"
        return Component(name, state, f"last run {status} ({span(now - started)} ago)", data)
    since = last.latest[1] if last.latest else scheduler_started
    if since is None:
        return Component(name, "up", "waiting for its first run", data)
    due = next_fire_after(job.schedule, job.timezone, since)
    if due is None or due > now:
        nxt = f"next run in {span(upcoming - now)}" if upcoming else "no next fire"
        return Component(name, "up", nxt, data)
    overdue = now - due
    data["due"] = due.isoformat()
    if overdue <= grace:
        return Component(name, "up", f"due {span(overdue)} ago, within grace", data)
    state = "down" if overdue > 2 * grace else "late"
    return Component(
        name, state, f"no run since it was due {span(overdue)} ago (grace {span(grace)})", data
    )


def check_jobs(context: Context, now: datetime) -> list[Component]:
    """A component per scheduled job: up, late, down or paused."""
    config = context.config
    jobs = scheduled_jobs(config)
    if not jobs:
        return []
    grace = config.health.grace
    with context.engine.connect() as connection:
        paused = {
            row[0]
            for row in connection.execute(select(_states.c.job).where(_states.c.paused == true()))
        }
        beat = read_heartbeat(connection, "scheduler")
        started = beat.started_at if beat is not None else None
        components = []
        for job in jobs:
            components.append(
                job_status(
                    job,
                    _last_runs(connection, job.name),
                    paused=job.name in paused or not config.scheduler.enabled,
                    scheduler_started=started,
                    now=now,
                    grace=grace,
                )
            )
    return components


def job_health(context: Context, now: datetime) -> dict[str, tuple[str, str]]:
    """job → (up | late | down | paused, why), for the digest's insights."""
    return {c.data["job"]: (c.status, c.detail) for c in check_jobs(context, now)}
