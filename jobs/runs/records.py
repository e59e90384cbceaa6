"""Run records: one `job_runs` row per run, written before the work starts.

A row is `running` until it is finished; finishing is a conditional update, so a row
already marked `interrupted` (shutdown) or `abandoned` (a later start-up) keeps that
verdict. Digest and health read these rows; nothing else counts runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from jobs.core.processes import stopped_here
from jobs.core.scrub import scrub
from storage.db import session_scope
from storage.leadership import one_line
from storage.models import JobRun, JobState, utcnow

log = logging.getLogger(__name__)
_RUNS = JobRun.__table__  # type: ignore[attr-defined]

# A run without heartbeats (written by an older opsdesk) still `running` after this
# long is abandoned whoever ran it (a command's own timeout is far shorter).
ABANDON_AFTER = timedelta(hours=12)
# A running run beats this often; after MISSED_BEATS missed beats it is reclaimed
# from any host (its process died: kill -9, power loss, a lost container).
RUN_BEAT_EVERY = timedelta(seconds=30)
MISSED_BEATS = 4
MAX_ERROR_CHARS = 4000


def start_run(
    engine: Engine,
    *,
    job: str,
    kind: str,
    trigger: str,
    runner: str,
    scheduled_at: datetime | None = None,
    batch_id: str | None = None,
    started_at: datetime | None = None,
    queued_at: datetime | None = None,
) -> JobRun:
    started_at = started_at or utcnow()
    wait_ms = (
        None
        if queued_at is None
        else max(0, round((started_at - queued_at).total_seconds() * 1000))
    )
    row = JobRun(
        job=job,
        kind=kind,
        trigger=trigger,
        status="running",
        scheduled_at=scheduled_at,
        queued_at=queued_at,
        wait_ms=wait_ms,
        started_at=started_at,
        batch_id=batch_id,
        runner=runner,
        heartbeat_at=utcnow(),
    )
    with session_scope(engine) as session:
        session.add(row)
    return row


def beat(engine: Engine, run_id: int) -> bool:
    """A running run's sign of life; False once the row is no longer running."""
    with session_scope(engine) as session:
        result = session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run_id, col(JobRun.status) == "running")
            .values(heartbeat_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


@contextmanager
def beating(engine: Engine, run_id: int, every: timedelta = RUN_BEAT_EVERY) -> Iterator[None]:
    """Beat for `run_id` in a background thread while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every.total_seconds()):
            try:
                if not beat(engine, run_id):
                    return
            except Exception as exc:
                log.warning("could not record run %s's heartbeat: %s", run_id, one_line(exc))

    thread = threading.Thread(target=loop, name=f"run-{run_id}-beat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    status: str,
    finished_at: datetime | None = None,
    **values: object,
) -> bool:
    """Close a running row; False when it was already closed (e.g. interrupted)."""
    finished = finished_at or utcnow()
    with session_scope(engine) as session:
        row = session.get(JobRun, run_id)
        if row is None:
            return False
        duration_ms = int((finished - row.started_at).total_seconds() * 1000)
        _scrub_columns(values)
        result = session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run_id, col(JobRun.status) == "running")
            .values(status=status, finished_at=finished, duration_ms=duration_ms, **values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def record_finished(engine: Engine, **columns: Any) -> int:
    """Insert a run that is already over, in one statement; returns its id. For runs
    recorded after the fact: a missed fire, a review (its cache hits cost one insert)."""
    _scrub_columns(columns)
    with engine.begin() as connection:
        result = connection.execute(insert(_RUNS).values(**columns).returning(_RUNS.c.id))
        return int(result.scalar_one())


def _scrub_columns(columns: dict[str, Any]) -> None:
    """What a run row stores passes the scrubber first, then the error is cut."""
    for name in ("output", "error"):
        value = columns.get(name)
        if isinstance(value, str):
            columns[name] = scrub(value)
    if isinstance(columns.get("error"), str):
        columns["error"] = columns["error"][:MAX_ERROR_CHARS]


def record_missed(
    engine: Engine,
    *,
    job: str,
    kind: str,
    scheduled_at: datetime,
    runner: str,
    batch_id: str | None = None,
    why: str = "late",
) -> int:
    """A scheduled time that passed without a run (beyond the misfire grace)."""
    now = utcnow()
    return record_finished(
        engine,
        job=job,
        kind=kind,
        trigger="batch" if batch_id else "schedule",
        status="missed",
        scheduled_at=scheduled_at,
        started_at=now,
        finished_at=now,
        duration_ms=0,
        batch_id=batch_id,
        runner=runner,
        error=f"missed its {scheduled_at:%Y-%m-%d %H:%M:%S %Z} schedule: "
        + ("past the misfire grace" if why == "late" else why),
    )


def mark_abandoned(
    engine: Engine,
    runner: str,
    now: datetime | None = None,
    older_than: timedelta = ABANDON_AFTER,
    *,
    own_pid_is_new: bool = True,
) -> list[int]:
    """Rows left `running` by a process that is gone become `abandoned`. Any opsdesk
    process that opens the database calls this.

    Gone means: this host and its pid is not alive; or the pid is ours and
    `own_pid_is_new` (at `opsdesk run` start-up: a restarted container reuses pid 1
    and we have not started anything yet); or its heartbeat stopped MISSED_BEATS
    beats ago, whatever host ran it; or, for a row without heartbeats (an older
    opsdesk), it started more than `older_than` ago."""
    now = now or utcnow()
    silent_since = utcnow() - RUN_BEAT_EVERY * MISSED_BEATS
    abandoned: list[int] = []
    with session_scope(engine) as session:
        rows = session.exec(select(JobRun).where(col(JobRun.status) == "running")).all()
        for row in rows:
            if row.heartbeat_at is None:
                gone = row.started_at < now - older_than
            else:
                gone = row.heartbeat_at < silent_since
            ours = row.runner == runner
            gone = gone or (ours and own_pid_is_new) or stopped_here(row.runner or "", runner)
            if not gone:
                continue
            row.status = "abandoned"
            row.finished_at = now
            row.error = f"the process that ran it ({row.runner}) stopped before it finished"
            session.add(row)
            assert row.id is not None
            abandoned.append(row.id)
    return abandoned


def interrupt(engine: Engine, run_ids: list[int], reason: str) -> int:
    """Shutdown: runs that did not finish within the grace."""
    if not run_ids:
        return 0
    now = utcnow()
    with session_scope(engine) as session:
        result = session.execute(
            update(JobRun)
            .where(col(JobRun.id).in_(run_ids), col(JobRun.status) == "running")
            .values(status="interrupted", finished_at=now, error=scrub(reason))
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def cached_run(engine: Engine, job: str, cache_key: str, since: datetime) -> JobRun | None:
    """The newest successful real run of `job` under `cache_key` since `since`."""
    with Session(engine) as session:
        return session.exec(
            select(JobRun)
            .where(
                col(JobRun.job) == job,
                col(JobRun.cache_key) == cache_key,
                col(JobRun.status) == "ok",
                col(JobRun.started_at) >= since,
            )
            .order_by(col(JobRun.started_at).desc())
            .limit(1)
        ).first()


def last_runs(engine: Engine, jobs: list[str]) -> dict[str, JobRun]:
    """The newest finished-or-running row of each job."""
    latest: dict[str, JobRun] = {}
    if not jobs:
        return latest
    with Session(engine) as session:
        for job in jobs:
            row = session.exec(
                select(JobRun)
                .where(col(JobRun.job) == job)
                .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
                .limit(1)
            ).first()
            if row is not None:
                latest[job] = row
    return latest


def runs_of(engine: Engine, job: str | None = None, batch_id: str | None = None) -> list[JobRun]:
    with Session(engine) as session:
        query = select(JobRun).order_by(col(JobRun.id))
        if job is not None:
            query = query.where(col(JobRun.job) == job)
        if batch_id is not None:
            query = query.where(col(JobRun.batch_id) == batch_id)
        return list(session.exec(query).all())


def has_run_for(engine: Engine, jobs: list[str], scheduled_at: datetime) -> bool:
    """Whether any of `jobs` has a run row (of any status) for that scheduled time."""
    with Session(engine) as session:
        found = session.exec(
            select(JobRun.id)
            .where(col(JobRun.job).in_(jobs), JobRun.scheduled_at == scheduled_at)
            .limit(1)
        ).first()
    return found is not None


def paused_jobs(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return {s.job for s in session.exec(select(JobState).where(col(JobState.paused))).all()}


def set_paused(engine: Engine, job: str, paused: bool, by: str) -> bool:
    """Returns whether the state changed."""
    with session_scope(engine) as session:
        state = session.get(JobState, job)
        if state is None:
            state = JobState(job=job, paused=False)
        changed = state.paused != paused
        state.paused = paused
        state.changed_by = by[:100]
        state.changed_at = utcnow()
        session.add(state)
    return changed


def recent_statuses(engine: Engine, jobs: list[str], limit: int = 5) -> dict[str, list[str]]:
    """The statuses of each job's last `limit` finished runs, newest first."""
    found: dict[str, list[str]] = {}
    with Session(engine) as session:
        for job in jobs:
            rows = session.exec(
                select(JobRun.status)
                .where(col(JobRun.job) == job, col(JobRun.status) != "running")
                .order_by(col(JobRun.started_at).desc(), col(JobRun.id).desc())
                .limit(limit)
            ).all()
            if rows:
                found[job] = list(rows)
    return found
