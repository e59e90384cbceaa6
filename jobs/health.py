"""Health: each component up, late, down or paused — derived at read time.

The overall status is the worst component's: database and schema, configuration,
scheduler (its heartbeat), each scheduled job, chat adapters (their heartbeats), the
model endpoint, free disk and process memory. Nothing here is stored: a job's state
is computed from its schedule and its last run rows at read time, as healthchecks'
`get_status()` does.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import select, text, true
from sqlalchemy.engine import Connection, Engine

from jobs.config import Config, parse_duration, schedule_from
from jobs.system_jobs import system_specs
from storage import schema
from storage.db import describe
from storage.models import Heartbeat, JobRun, JobState

Status = Literal["up", "paused", "late", "down"]
_RANK: dict[str, int] = {"up": 0, "paused": 0, "late": 1, "down": 2}
_runs = JobRun.__table__  # type: ignore[attr-defined]
_states = JobState.__table__  # type: ignore[attr-defined]
_beats = Heartbeat.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Component:
    name: str
    status: Status
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReport:
    components: list[Component]
    checked_at: datetime

    @property
    def status(self) -> Status:
        if not self.components:
            return "up"
        worst = max(self.components, key=lambda c: _RANK[c.status])
        return "up" if worst.status == "paused" else worst.status

    @property
    def healthy(self) -> bool:
        return self.status == "up"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "healthy": self.healthy,
            "checked_at": self.checked_at.isoformat(),
            "components": [asdict(c) for c in self.components],
        }


def check_database(engine: Engine) -> list[Component]:
    """Database round trip, then whether its schema is the one this code knows."""
    try:
        started = time.perf_counter()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        round_trip_ms = (time.perf_counter() - started) * 1000
    except Exception as exc:
        return [Component("database", "down", f"unreachable: {type(exc).__name__}: {exc}")]
    database = Component(
        "database",
        "up",
        f"{engine.dialect.name}, round trip {round_trip_ms:.1f} ms",
        {"round_trip_ms": round(round_trip_ms, 2), "url": describe(engine)},
    )
    try:
        found = schema.check(engine)
    except schema.SchemaError as exc:
        return [database, Component("schema", "down", str(exc))]
    if found.is_current:
        state = Component("schema", "up", f"at {found.head}", {"revision": found.current})
    else:
        state = Component(
            "schema",
            "down",
            f"at {found.current or 'nothing (empty database)'}, needs {found.head}: "
            "run `opsdesk db upgrade`",
            {"revision": found.current, "head": found.head},
        )
    return [database, state]


def check_config(source: str, repos: int, jobs: int) -> Component:
    return Component(
        "config",
        "up",
        f"loaded from {source}: {repos} repositories, {jobs} jobs",
        {"source": source, "repos": repos, "jobs": jobs},
    )


# ---- scheduled jobs --------------------------------------------------------------------

# A heartbeat older than this means its writer is gone.
HEARTBEAT_STALE = timedelta(minutes=2)
MODEL_PROBE_TIMEOUT_S = 3.0
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
    """Every job with a schedule: repositories (job `review:<repo>`), command jobs, and
    batch members without their own schedule under their batch's."""
    tz = config.scheduler.timezone
    batch_schedule = {b.name: b.schedule for b in config.batches}
    llm = config.reviewer.llm
    review_allowance = timedelta(seconds=llm.timeout_s * (llm.max_retries + 1) * llm.passes)
    found: list[ScheduledJob] = []
    for repo in config.repos:
        schedule = repo.schedule or (batch_schedule.get(repo.batch) if repo.batch else None)
        if schedule:
            found.append(ScheduledJob(f"review:{repo.name}", schedule, tz, review_allowance))
    for job in config.jobs:
        schedule = job.schedule or (batch_schedule.get(job.batch) if job.batch else None)
        if schedule:
            found.append(ScheduledJob(job.name, schedule, tz, parse_duration(job.timeout)))
    for spec in system_specs(config):
        assert spec.schedule is not None
        found.append(
            ScheduledJob(spec.name, spec.schedule, spec.timezone or tz, SYSTEM_JOB_ALLOWANCE)
        )
    return found


def next_fire_after(schedule: str, timezone: str, after: datetime) -> datetime | None:
    """The schedule's first fire time strictly after `after` (aware UTC)."""
    spec = schedule_from(schedule)
    assert spec is not None
    if spec.every is not None:
        # An interval counts from the last run (or the scheduler's start).
        return after + parse_duration(spec.every)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(spec.cron or "", timezone=timezone)
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return None if fire is None else fire.astimezone(UTC)


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


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


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
    upcoming = next_fire_after(job.schedule, job.timezone, now - timedelta(microseconds=1))
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
                f"a run started {_ago(running_for)} ago has not finished "
                f"(allowed {_ago(job.run_allowance + grace)})",
                data,
            )
    if last.latest_finished is not None and last.latest_finished[0] not in _GOOD:
        status, started, _ = last.latest_finished
        state: Status = "late" if status == "missed" else "down"
        return Component(name, state, f"last run {status} ({_ago(now - started)} ago)", data)
    since = last.latest[1] if last.latest else scheduler_started
    if since is None:
        return Component(name, "up", "waiting for its first run", data)
    due = next_fire_after(job.schedule, job.timezone, since)
    if due is None or due > now:
        nxt = f"next at {upcoming:%Y-%m-%d %H:%M} UTC" if upcoming else "no next fire"
        return Component(name, "up", nxt, data)
    overdue = now - due
    data["due"] = due.isoformat()
    if overdue <= grace:
        return Component(name, "up", f"due {_ago(overdue)} ago, within grace", data)
    state = "down" if overdue > 2 * grace else "late"
    return Component(
        name, state, f"no run since it was due {_ago(overdue)} ago (grace {_ago(grace)})", data
    )


def check_jobs(engine: Engine, config: Config, now: datetime) -> list[Component]:
    """A component per scheduled job: up, late, down or paused."""
    jobs = scheduled_jobs(config)
    if not jobs:
        return []
    grace = parse_duration(config.health.grace)
    with engine.connect() as connection:
        paused = {
            row[0]
            for row in connection.execute(select(_states.c.job).where(_states.c.paused == true()))
        }
        beat = _heartbeat(connection, "scheduler")
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


def job_health(engine: Engine, config: Config, now: datetime) -> dict[str, tuple[str, str]]:
    """job → (up | late | down | paused, why), for the digest's insights."""
    return {c.data["job"]: (c.status, c.detail) for c in check_jobs(engine, config, now)}


# ---- long-lived components ------------------------------------------------------------


@dataclass(frozen=True)
class Beat:
    status: str
    detail: str
    started_at: datetime
    beat_at: datetime


def _heartbeat(connection: Connection, component: str) -> Beat | None:
    row = connection.execute(
        select(_beats.c.status, _beats.c.detail, _beats.c.started_at, _beats.c.beat_at).where(
            _beats.c.component == component
        )
    ).first()
    return None if row is None else Beat(*row)


def _beat_component(name: str, beat: Beat | None, now: datetime) -> Component:
    if beat is None:
        return Component(name, "down", "not running (no heartbeat)")
    age = now - beat.beat_at
    data: dict[str, Any] = {"status": beat.status, "beat_at": beat.beat_at.isoformat()}
    try:
        detail = json.loads(beat.detail) if beat.detail else {}
    except ValueError:
        detail = {}
    if isinstance(detail, dict):
        data["detail"] = detail
    if age > HEARTBEAT_STALE:
        return Component(name, "down", f"last heartbeat {_ago(age)} ago", data)
    if beat.status != "up":
        return Component(name, "down", f"reports {beat.status}", data)
    return Component(name, "up", f"running, heartbeat {_ago(age)} ago", data)


def check_scheduler(engine: Engine, config: Config, now: datetime) -> Component:
    """The scheduler's heartbeat row, with its next fire times."""
    if not config.scheduler.enabled:
        return Component("scheduler", "up", "disabled in the configuration")
    with engine.connect() as connection:
        beat = _heartbeat(connection, "scheduler")
    # Without jobs or digest targets nothing waits on the scheduler: a console-only
    # set-up without it is healthy.
    digest_posts = config.digest.enabled and bool(config.digest.post_to)
    if beat is None and not scheduled_jobs(config) and not digest_posts:
        return Component("scheduler", "up", "not running; no scheduled jobs")
    component = _beat_component("scheduler", beat, now)
    fires = component.data.get("detail", {}).get("next_fire")  # written by jobs.scheduler
    upcoming = {job: at for job, at in fires.items() if at} if isinstance(fires, dict) else {}
    if component.status == "up" and upcoming:
        first = min(upcoming.items(), key=lambda item: str(item[1]))
        detail = f"{component.detail}; next: {first[0]} at {first[1]}"
        return Component("scheduler", "up", detail, component.data)
    return component


def check_chat_adapters(engine: Engine, config: Config, now: datetime) -> list[Component]:
    """Slack and Telegram, when enabled, from the heartbeats their adapters write."""
    enabled = [
        name
        for name, on in (("slack", config.slack.enabled), ("telegram", config.telegram.enabled))
        if on
    ]
    if not enabled:
        return []
    with engine.connect() as connection:
        return [_beat_component(name, _heartbeat(connection, name), now) for name in enabled]


def uses_llm(config: Config) -> bool:
    default = config.reviewer.default
    return any((repo.reviewer or default) == "llm" for repo in config.repos) or (
        not config.repos and default == "llm"
    )


def check_model_endpoint(
    config: Config, api_key: str | None = None, timeout_s: float = MODEL_PROBE_TIMEOUT_S
) -> Component | None:
    """GET {base_url}/models when a repository uses the llm reviewer; None otherwise.
    The key goes in the header only, never into the detail."""
    if not uses_llm(config):
        return None
    import httpx

    url = f"{config.reviewer.llm.base_url}/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    started = time.perf_counter()
    try:
        response = httpx.get(url, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Component("model", "down", f"{url} unreachable: {type(exc).__name__}", {"url": url})
    elapsed_ms = (time.perf_counter() - started) * 1000
    data = {"url": url, "http_status": response.status_code, "ms": round(elapsed_ms, 1)}
    if response.status_code in (401, 403):
        return Component(
            "model", "down", f"{url} refused the API key (HTTP {response.status_code})", data
        )
    if response.status_code >= 500:
        return Component("model", "down", f"{url} answered HTTP {response.status_code}", data)
    return Component("model", "up", f"{url} reachable in {elapsed_ms:.0f} ms", data)


# ---- the machine ------------------------------------------------------------------------


def database_directory(engine: Engine, data_dir: Path) -> Path:
    """Where the database's bytes go: a SQLite file's directory, else data_dir."""
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return Path(str(engine.url.database)).expanduser().resolve().parent
    return data_dir


def check_disk(directory: Path, min_free_mb: int) -> Component:
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    usage = shutil.disk_usage(existing)
    free_mb = usage.free // (1024 * 1024)
    data = {"path": str(directory), "free_mb": free_mb, "min_free_mb": min_free_mb}
    detail = f"{free_mb:,} MB free at {directory} (minimum {min_free_mb:,} MB)"
    return Component("disk", "down" if free_mb < min_free_mb else "up", detail, data)


def process_memory_mb() -> float:
    """Resident memory: VmRSS where /proc exists, else the peak from getrusage."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def check_memory() -> Component:
    rss = process_memory_mb()
    return Component("memory", "up", f"{rss:.0f} MB resident", {"rss_mb": round(rss, 1)})


def health_report(
    engine: Engine,
    config: Config,
    *,
    config_source: str,
    data_dir: Path,
    now: datetime,
    llm_api_key: str | None = None,
    probe_model: bool = True,
) -> HealthReport:
    """Every component; the overall status is the worst one's. What `/health`,
    `opsdesk health` and the scheduler's `health` job call."""
    components = check_database(engine)
    components.append(check_config(config_source, len(config.repos), len(config.jobs)))
    if components[0].status == "up" and components[1].status == "up":
        components.append(check_scheduler(engine, config, now))
        components += check_jobs(engine, config, now)
        components += check_chat_adapters(engine, config, now)
    if probe_model and (model := check_model_endpoint(config, llm_api_key)) is not None:
        components.append(model)
    components.append(
        check_disk(database_directory(engine, data_dir), config.health.min_free_disk_mb)
    )
    components.append(check_memory())
    return HealthReport(components=components, checked_at=now)
