"""Fires that did not run, recorded as `missed` rows: late past the misfire grace,
skipped because the previous run still went on, or due while no scheduler ran (found
at a leader's start from the last scheduler heartbeat). Every fire leaves a trace."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from jobs.context import Context
from jobs.runs import records as runs
from jobs.runs.specs import batch_members, find_job, make_trigger
from storage import heartbeats
from storage.durable import is_unavailable
from storage.leadership import one_line

log = logging.getLogger(__name__)

# After a long outage, this many missed fires per job are recorded, no more.
MAX_DOWNTIME_MISSES = 50
JOB_PREFIX, BATCH_PREFIX = "job:", "batch:"


def record_downtime_misses(
    context: Context, planned: list[tuple[str, str, str]]
) -> dict[str, datetime]:
    """Cron fires that fell while no scheduler ran — after the last heartbeat of the
    one before, past the misfire grace — are recorded as missed: APScheduler only
    plans forward, so nobody else would. Fires with a run row and paused jobs are
    left alone; interval schedules have no fixed past times and are skipped.
    Returns, per entry, the first such fire still within the grace: it is run now
    (a hand-over between leaders or a short outage costs no fire)."""
    config, engine = context.config, context.engine
    with engine.connect() as connection:
        last = heartbeats.read_heartbeat(connection, "scheduler")
    catch_up: dict[str, datetime] = {}
    if last is None:
        return catch_up  # no scheduler ever ran here: nothing was due to one
    now = context.clock()
    until = now - config.scheduler.misfire_grace
    paused = runs.paused_jobs(engine)
    for entry, schedule, timezone in planned:
        name = entry.split(":", 1)[1]
        if name in paused or schedule.startswith("every "):
            continue
        members = [m.name for m in batch_members(config, name)]
        jobs = members if entry.startswith(BATCH_PREFIX) else [name]
        trigger = make_trigger(schedule, timezone)
        fire = trigger.get_next_fire_time(None, last.beat_at)
        for _ in range(MAX_DOWNTIME_MISSES):
            if fire is None or fire > until:
                break
            if not runs.has_run_for(engine, jobs, fire):
                record_missed(context, entry, fire, "opsdesk was not running")
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        while fire is not None and until < fire <= now:
            if not runs.has_run_for(engine, jobs, fire):
                catch_up[entry] = fire
                break
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return catch_up


def record_missed(context: Context, entry: str, scheduled_at: datetime, why: str) -> None:
    """A job's missed fire is one missed row; a batch's, one per member."""
    name = entry.partition(":")[2]
    if entry.startswith(BATCH_PREFIX):
        missed, batch_id = batch_members(context.config, name), f"{name}:missed"
    else:
        spec = find_job(context.config, name)
        missed, batch_id = ([spec] if spec is not None else []), None
    for spec in missed:
        runs.record_missed(
            context.engine,
            job=spec.name,
            kind=spec.kind,
            scheduled_at=scheduled_at,
            runner=context.runner_id,
            batch_id=batch_id,
            why=why,
        )
    log.warning("%s missed its %s schedule (%s)", entry, scheduled_at.isoformat(), why)


class MissLedger:
    """Misses that could not be written (the database was unavailable): kept here and
    written at the next heartbeat, so a fire during an outage still leaves its row."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self._kept: list[tuple[str, datetime, str]] = []
        self._guard = threading.Lock()

    def record(self, entry: str, scheduled_at: datetime, why: str) -> None:
        try:
            record_missed(self.context, entry, scheduled_at, why)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            with self._guard:
                self._kept.append((entry, scheduled_at, why))
            log.warning("%s's missed fire is kept until the database returns", entry)

    def flush(self) -> int:
        """Write what was kept; how many were written (the rest stay kept)."""
        with self._guard:
            kept, self._kept = self._kept, []
        written = 0
        for index, (entry, scheduled_at, why) in enumerate(kept):
            try:
                record_missed(self.context, entry, scheduled_at, why)
            except Exception:
                with self._guard:
                    self._kept[:0] = kept[index:]
                break
            written += 1
        return written

    async def paused_or_missed(
        self,
        entry: str,
        scheduled_at: datetime,
        stopping: Callable[[], bool],
        pause: Callable[[float], Awaitable[None]],
    ) -> set[str] | None:
        """The paused jobs, read again while the database is unavailable, for as long
        as the fire is within the misfire grace; None, with a `missed` row (kept until
        it can be written), when the grace runs out first."""
        grace = self.context.config.scheduler.misfire_grace
        wait = 1.0
        while True:
            try:
                return await asyncio.to_thread(runs.paused_jobs, self.context.engine)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                late = self.context.clock() - scheduled_at
                if stopping() or late + timedelta(seconds=wait) > grace:
                    why = f"the database was unavailable ({one_line(exc)})"
                    await asyncio.to_thread(self.record, entry, scheduled_at, why)
                    return None
                log.warning(
                    "%s waits for the database (%s); trying again in %.0fs",
                    entry,
                    one_line(exc),
                    wait,
                )
            await pause(wait)
            wait = min(wait * 2, 30.0)
