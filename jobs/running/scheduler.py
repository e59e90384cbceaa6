"""The scheduler: APScheduler 3 (asyncio) firing the configured jobs and batches.

Settings chosen on purpose for every entry: `misfire_grace_time` from
`[scheduler].misfire_grace` (a fire later than that is recorded `missed`),
`coalesce=True` (after downtime a job runs once, not once per missed time) and
`max_instances=1` (a job never overlaps itself). APScheduler's job store is in
memory and never shared; which process schedules is decided by a PostgreSQL
advisory lock (exactly one replica; the others stand by and retry). On SQLite one
process is assumed.

Paused jobs (JobState rows, set by /pause from any process) are read at fire time; a
paused fire records nothing, and /jobs shows the job as paused.

Job work blocks, so it runs in daemon threads: a job that ignores shutdown cannot
keep the process alive; its run is recorded `interrupted` after the grace.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.engine import Connection

from jobs.context import Context
from jobs.core.text import plural
from jobs.core.threads import in_daemon_thread
from jobs.running.runner import run_batch, run_job
from jobs.runs import records as runs
from jobs.runs.specs import batch_members, find_batch, find_job, job_specs, make_trigger
from storage import heartbeats
from storage.db import is_postgres

log = logging.getLogger(__name__)

# pg advisory lock: "opsd" as an int, paired with the schema's hash, so there is one
# scheduler per set of opsdesk tables (two deployments in two schemas of one database
# do not wait for each other).
SCHEDULER_LOCK_KEY = 0x6F707364
SCHEDULER_LOCK = "(:key, hashtext(current_schema()))"
# After a long outage, this many missed fires per job are recorded, no more.
MAX_DOWNTIME_MISSES = 50
JOB_PREFIX, BATCH_PREFIX = "job:", "batch:"


class JobScheduler:
    def __init__(
        self,
        context: Context,
        *,
        heartbeat_every: float = 30.0,
        shutdown_grace: float = 20.0,
        lock_retry: float = 15.0,
    ) -> None:
        self.context = context
        self.heartbeat_every = heartbeat_every
        self.shutdown_grace = shutdown_grace
        self.lock_retry = lock_retry
        # Shared with chat-started runs: one cancellation for every run.
        self.cancel = context.run_control.cancel
        self.leading = asyncio.Event()
        self._scheduler: AsyncIOScheduler | None = None
        self._lock_connection: Connection | None = None
        self._submitted: dict[str, datetime] = {}
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._active_runs: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = context.clock()
        self._stopping = False

    # --- life cycle -------------------------------------------------------------
    async def start(self) -> None:
        """Return at once; lead (schedule) as soon as the lock is ours."""
        if not self.context.config.scheduler.enabled:
            log.info("scheduler disabled in the configuration")
            return
        self._tasks.append(asyncio.create_task(self._lead(), name="scheduler-lead"))

    async def _lead(self) -> None:
        while not await asyncio.to_thread(self._try_lock):
            log.info("another process holds the scheduler lock; standing by")
            await asyncio.sleep(self.lock_retry)
        try:
            self._begin()
        except Exception:
            log.exception("the scheduler could not start")
            raise
        self.leading.set()
        await self._heartbeat_loop()

    def _try_lock(self) -> bool:
        engine = self.context.engine
        if not is_postgres(engine):
            return True
        connection = engine.connect()
        got = bool(
            connection.execute(
                text(f"SELECT pg_try_advisory_lock{SCHEDULER_LOCK}"), {"key": SCHEDULER_LOCK_KEY}
            ).scalar()
        )
        connection.commit()
        if got:
            self._lock_connection = connection  # held as long as the connection lives
        else:
            connection.close()
        return got

    @staticmethod
    def _release_lock(connection: Connection) -> None:
        """Unlock before closing: close() returns the connection to the pool, and a
        session-level advisory lock would stay with it, held by whoever gets it next."""
        try:
            connection.execute(
                text(f"SELECT pg_advisory_unlock{SCHEDULER_LOCK}"), {"key": SCHEDULER_LOCK_KEY}
            )
            connection.commit()
        except Exception:
            log.exception("could not release the scheduler lock; dropping the connection")
            connection.invalidate()
        finally:
            connection.close()

    def _begin(self) -> None:
        config = self.context.config
        grace = int(config.scheduler.misfire_grace.total_seconds())
        scheduler = AsyncIOScheduler(timezone=config.scheduler.timezone)
        for entry, schedule, timezone in self._planned():
            scheduler.add_job(
                self._fire,
                make_trigger(schedule, timezone),
                args=[entry],
                id=entry,
                name=entry,
                misfire_grace_time=grace,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
        self._record_downtime_misses()
        scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        scheduler.add_listener(self._on_still_running, EVENT_JOB_MAX_INSTANCES)
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started with %d entries", len(scheduler.get_jobs()))

    def _record_downtime_misses(self) -> None:
        """Cron fires that fell while no scheduler ran — after the last heartbeat of the
        one before, past the misfire grace — are recorded as missed: APScheduler only
        plans forward, so nobody else would. Fires with a run row and paused jobs are
        left alone; interval schedules have no fixed past times and are skipped."""
        config, engine = self.context.config, self.context.engine
        with engine.connect() as connection:
            last = heartbeats.read_heartbeat(connection, "scheduler")
        if last is None:
            return  # no scheduler ever ran here: nothing was due to one
        until = self.context.clock() - config.scheduler.misfire_grace
        paused = runs.paused_jobs(engine)
        for entry, schedule, timezone in self._planned():
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
                    self._record_missed(entry, fire, "opsdesk was not running")
                fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))

    def entries(self) -> list[tuple[str, str]]:
        """(entry id, schedule): jobs outside batches with a schedule, and batches."""
        return [(entry, schedule) for entry, schedule, _tz in self._planned()]

    def _planned(self) -> list[tuple[str, str, str]]:
        """(entry id, schedule, time zone) of everything the scheduler fires."""
        config = self.context.config
        default = config.scheduler.timezone
        found = [
            (f"{JOB_PREFIX}{spec.name}", spec.schedule, spec.timezone or default)
            for spec in job_specs(config)
            if spec.schedule and spec.batch is None
        ]
        found += [
            (f"{BATCH_PREFIX}{batch.name}", batch.schedule, default) for batch in config.batches
        ]
        return found

    async def stop(self) -> None:
        """No new fires; running jobs get `shutdown_grace` to finish, then are told
        to stop, then recorded as interrupted."""
        self._stopping = True
        last_plan = self.next_fire_times()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._in_flight:
            log.info(
                "waiting up to %.0fs for %s",
                self.shutdown_grace,
                plural(len(self._in_flight), "running job"),
            )
            _, pending = await asyncio.wait(self._in_flight, timeout=self.shutdown_grace)
            if pending:
                self.cancel.set()
                await asyncio.wait(pending, timeout=5.0)
        if self._active_runs:
            count = await asyncio.to_thread(
                runs.interrupt,
                self.context.engine,
                sorted(self._active_runs),
                "opsdesk stopped before the run finished",
            )
            log.warning("%s recorded as interrupted", plural(count, "run"))
        if self.leading.is_set():
            await asyncio.to_thread(self._beat, "stopped", last_plan)
        if self._lock_connection is not None:
            await asyncio.to_thread(self._release_lock, self._lock_connection)
            self._lock_connection = None

    # --- firing -----------------------------------------------------------------
    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        # Runs on the loop before the submitted coroutine starts: hand it its time.
        if event.scheduled_run_times:
            self._submitted[event.job_id] = event.scheduled_run_times[-1]

    def _on_missed(self, event: JobExecutionEvent) -> None:
        asyncio.get_running_loop().run_in_executor(
            None, self._record_missed, event.job_id, event.scheduled_run_time, "late"
        )

    def _on_still_running(self, event: JobSubmissionEvent) -> None:
        # max_instances=1: a fire while the previous run goes on is skipped — a miss too.
        for scheduled_at in event.scheduled_run_times:
            asyncio.get_running_loop().run_in_executor(
                None, self._record_missed, event.job_id, scheduled_at, "previous run still going"
            )

    def _record_missed(self, entry: str, scheduled_at: datetime, why: str) -> None:
        """A job's missed fire is one missed row; a batch's, one per member."""
        context = self.context
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

    async def _fire(self, entry: str) -> None:
        scheduled_at = self._submitted.pop(entry, None) or self.context.clock()
        if self._stopping:
            return
        # Our own task: APScheduler cancels its coroutines at shutdown, but a running
        # job gets the grace, then the cancel event (see stop()).
        work = asyncio.create_task(self._run_entry(entry, scheduled_at), name=entry)
        self._in_flight.add(work)
        work.add_done_callback(self._in_flight.discard)
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            return  # the scheduler is shutting down; stop() takes care of `work`
        except Exception:
            log.exception("scheduled %s failed", entry)

    async def _run_entry(self, entry: str, scheduled_at: datetime) -> None:
        context = self.context
        name = entry.partition(":")[2]
        paused = await asyncio.to_thread(runs.paused_jobs, context.engine)
        if name in paused:
            log.info("%s is paused; not running", entry)
            return
        started: list[int] = []

        def on_start(run_id: int) -> None:
            started.append(run_id)
            self._active_runs.add(run_id)

        try:
            if entry.startswith(BATCH_PREFIX):
                if find_batch(context.config, name) is None:
                    return
                await in_daemon_thread(
                    run_batch,
                    context,
                    name,
                    scheduled_at=scheduled_at,
                    cancel=self.cancel,
                    on_start=on_start,
                )
            else:
                spec = find_job(context.config, name)
                if spec is None:
                    return
                await in_daemon_thread(
                    run_job,
                    context,
                    spec,
                    "schedule",
                    scheduled_at=scheduled_at,
                    cancel=self.cancel,
                    on_start=on_start,
                )
        finally:
            self._active_runs.difference_update(started)

    # --- heartbeat ----------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._beat, "up")
            except Exception:
                log.exception("scheduler heartbeat failed")
            await asyncio.sleep(self.heartbeat_every)

    def next_fire_times(self) -> dict[str, str | None]:
        if self._scheduler is None:
            return {}
        return {
            job.id: job.next_run_time.isoformat() if job.next_run_time else None
            for job in self._scheduler.get_jobs()
        }

    def _beat(self, status: str, plan: dict[str, str | None] | None = None) -> None:
        plan = self.next_fire_times() if plan is None else plan
        detail = {"next_fire": plan, "running": len(self._in_flight)}
        heartbeats.beat(
            self.context.engine,
            "scheduler",
            self.context.runner_id,
            status,
            detail,
            started_at=self._started_at,
        )
