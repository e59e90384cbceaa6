"""The checks behind /health: database and schema, configuration, scheduler and chat
adapters (their heartbeats), scheduled jobs, the model endpoint, disk and memory."""

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import text
from sqlalchemy.engine import Engine

from jobs.context import Context
from jobs.core.processes import this_runner
from jobs.core.text import duration, plural, span
from jobs.health.component import Component, HealthReport
from jobs.health.model_endpoint import check_model_endpoint
from jobs.health.posting import check_post_targets
from jobs.health.scheduled import check_jobs, scheduled_jobs
from jobs.outbox.waiting import waiting_posts
from jobs.runs.waiting import waiting_runs
from storage import heartbeats, migrate
from storage.db import describe, open_failure
from storage.durable import KEPT, note_available, note_unavailable, unavailable_since
from storage.heartbeats import read_heartbeat
from storage.leadership import one_line
from storage.models import Heartbeat, utcnow

log = logging.getLogger(__name__)


def check_database(engine: Engine) -> list[Component]:
    """Database round trip, then whether its schema is the one this code knows."""
    try:
        started = time.perf_counter()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        round_trip_ms = (time.perf_counter() - started) * 1000
    except Exception as exc:
        # One line naming the cause (no SQL, no password), in the log and the report,
        # and since when this process has found it so.
        cause = open_failure(exc) or "unreachable"
        log.warning("health: the database is down: %s (%s)", cause, one_line(exc))
        note_unavailable(engine, utcnow())
        since = unavailable_since(engine) or utcnow()
        detail = f"{cause} (down since {since:%H:%M:%S} UTC)" + _held_meanwhile(engine)
        return [Component("database", "down", detail)]
    note_available(engine)
    database = Component(
        "database",
        "up",
        f"{engine.dialect.name}, round trip {duration(round_trip_ms)}",
        {"round_trip_ms": round(round_trip_ms, 2), "url": describe(engine)},
    )
    try:
        found = migrate.check(engine)
    except migrate.SchemaError as exc:
        return [database, Component("schema", "down", str(exc))]
    if found.is_current:
        state = Component("schema", "up", f"at {found.head}", {"revision": found.current})
        cannot_write = write_probe(engine)
        if cannot_write is not None:
            database = Component("database", "down", cannot_write, database.data)
    else:
        state = Component(
            "schema",
            "down",
            f"at {found.current or 'nothing (empty database)'}, needs {found.head}: "
            "run `opsdesk db upgrade`",
            {"revision": found.current, "head": found.head},
        )
    return [database, state]


def write_probe(engine: Engine) -> str | None:
    """Readiness writes, not only reads: a read-only database (a failover to a replica,
    an I/O error, a full disk) answers SELECT 1 but loses every run. None when the
    write went through, else one line saying why not."""
    try:
        heartbeats.beat(engine, "readiness", this_runner(), "up")
    except Exception as exc:
        cause = one_line(exc)
        log.warning("health: the database cannot be written: %s", cause)
        return f"cannot write: {cause}"
    return None


def check_config(source: str, repos: int, jobs: int) -> Component:
    return Component(
        "config",
        "up",
        f"loaded: {plural(repos, 'repository', 'repositories')}, {plural(jobs, 'job')}",
        {"source": source, "repos": repos, "jobs": jobs},
    )


# A heartbeat older than this means its writer is gone.
HEARTBEAT_STALE = timedelta(minutes=2)


def _beat_component(name: str, beat: Heartbeat | None, now: datetime) -> Component:
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
        return Component(name, "down", f"last heartbeat {span(age)} ago", data)
    if beat.status == "connecting" and isinstance(detail, dict):
        # Written by a chat adapter still trying to reach its platform.
        attempt, error = detail.get("attempt"), detail.get("last_error")
        said = f"connecting, attempt {attempt}" + (f", last error: {error}" if error else "")
        return Component(name, "down", said, data)
    if beat.status != "up":
        return Component(name, "down", f"reports {beat.status}", data)
    return Component(name, "up", f"running, heartbeat {span(age)} ago", data)


def _in(iso_time: str, now: datetime) -> str:
    """'in 12 min' for a stored fire time; the time itself when it cannot be read."""
    try:
        at = datetime.fromisoformat(iso_time)
    except (TypeError, ValueError):
        return f"at {iso_time}"
    if at.tzinfo is None or now.tzinfo is None:
        at, now = at.replace(tzinfo=None), now.replace(tzinfo=None)
    return f"in {span(at - now)}"


def check_scheduler(context: Context, now: datetime) -> Component:
    """The scheduler's heartbeat row, with its next fire times."""
    config = context.config
    if not config.scheduler.enabled:
        return Component("scheduler", "up", "disabled in the configuration")
    with context.engine.connect() as connection:
        beat = read_heartbeat(connection, "scheduler")
    # Without jobs or digest targets nothing waits on the scheduler: a console-only
    # set-up without it is healthy.
    digest_posts = config.digest.enabled and bool(config.digest.post_to)
    if beat is None and not scheduled_jobs(config) and not digest_posts:
        return Component("scheduler", "up", "idle: nothing is scheduled")
    component = _beat_component("scheduler", beat, now)
    fires = component.data.get("detail", {}).get("next_fire")  # written by jobs.running.scheduler
    upcoming = {job: at for job, at in fires.items() if at} if isinstance(fires, dict) else {}
    if component.status == "up" and upcoming:
        job, at = min(upcoming.items(), key=lambda item: str(item[1]))
        detail = f"{component.detail}; next: {job.split(':', 1)[-1]} {_in(at, now)}"
        return Component("scheduler", "up", detail, component.data)
    return component


def check_chat_adapters(context: Context, now: datetime) -> list[Component]:
    """Slack and Telegram, when enabled, from the heartbeats their adapters write."""
    config = context.config
    enabled = [
        name
        for name, on in (("slack", config.slack.enabled), ("telegram", config.telegram.enabled))
        if on
    ]
    if not enabled:
        return []
    with context.engine.connect() as connection:
        return [_beat_component(name, read_heartbeat(connection, name), now) for name in enabled]


# Per engine: the posts waiting when health last read the outbox, and when; what it
# can say about them while the database does not answer.
_LAST_WAITING: WeakKeyDictionary[Engine, tuple[int, datetime]] = WeakKeyDictionary()


def _held_meanwhile(engine: Engine) -> str:
    """'; kept here until it returns: 1 run end, 2 posts; 5 posts waiting at 14:02 UTC'
    — what this process knows without the database ('' when nothing)."""
    parts = []
    if kept := KEPT.counts():
        held = ", ".join(plural(n, kind) for kind, n in sorted(kept.items()))
        parts.append(f"kept here until it returns: {held}")
    if (last := _LAST_WAITING.get(engine)) is not None and last[0]:
        parts.append(f"{plural(last[0], 'post')} waiting at {last[1]:%H:%M} UTC")
    return "".join(f"; {part}" for part in parts)


def check_outbox(engine: Engine, now: datetime) -> Component:
    """Posts waiting to be sent; `late` when a chat platform has posts but no
    running adapter to send them (they stay pending, never marked sent)."""
    waiting = waiting_posts(engine)
    _LAST_WAITING[engine] = (sum(waiting.values()), now)
    unserved: dict[str, int] = {}
    with engine.connect() as connection:
        for platform, count in waiting.items():
            if platform in ("slack", "telegram"):
                beat = _beat_component(platform, read_heartbeat(connection, platform), now)
                if beat.status != "up":
                    unserved[platform] = count
    data: dict[str, Any] = {"waiting": waiting, "unserved": unserved}
    if unserved:
        names = ", ".join(f"{n} for {p}" for p, n in sorted(unserved.items()))
        return Component(
            "outbox", "late", f"posts waiting with no running adapter to send them: {names}", data
        )
    total = sum(waiting.values())
    return Component("outbox", "up", f"{total} post(s) waiting" if total else "empty", data)


def check_workers(context: Context, now: datetime) -> Component | None:
    """`late` while a run of this process has waited longer than `[scheduler]
    long_wait` for a free worker; nothing to say otherwise."""
    slots = context.run_control.slots
    waiting = waiting_runs(context)
    if not waiting:
        return None
    longest = now - waiting[0].queued_at
    if longest <= context.config.scheduler.long_wait:
        return None
    data = {
        "workers": slots.workers,
        "waiting": len(waiting),
        "oldest_s": round(longest.total_seconds()),
    }
    detail = (
        f"{plural(len(waiting), 'run')} waiting for a free worker, the oldest "
        f"({waiting[0].job}) for {span(longest)}; {plural(slots.workers, 'worker')} "
        "([scheduler] workers)"
    )
    return Component("workers", "late", detail, data)


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
    # The path stays in `data` (opsdesk health --json); chat shows no server paths.
    detail = f"{free_mb:,} MB free for the database (minimum {min_free_mb:,} MB)"
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


def health_report(context: Context, *, now: datetime, probe_model: bool = True) -> HealthReport:
    """Every component as of `now`; the overall status is the worst one's. What
    `/health`, `opsdesk health` and the scheduler's `health` job call."""
    engine, config = context.engine, context.config
    components = check_database(engine)
    components.append(check_config(context.config_source, len(config.repos), len(config.jobs)))
    if components[0].status == "up" and components[1].status == "up":
        components.append(check_scheduler(context, now))
        if (workers := check_workers(context, now)) is not None:
            components.append(workers)
        components += check_jobs(context, now)
        components += check_chat_adapters(context, now)
        components.append(check_outbox(engine, now))
        components += check_post_targets(engine)
    if probe_model and (model := check_model_endpoint(config, context.llm_api_key)) is not None:
        components.append(model)
    database_dir = database_directory(engine, context.data_dir)
    components.append(check_disk(database_dir, config.health.min_free_disk_mb))
    components.append(check_memory())
    return HealthReport(components=components, checked_at=now)
