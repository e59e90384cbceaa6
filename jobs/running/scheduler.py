"""The scheduler: APScheduler 3 (asyncio) firing the configured jobs and batches.

Settings chosen on purpose for every entry: a fire later than `[scheduler].misfire_grace`
is recorded `missed` (judged on the injected clock, see jobs/running/clocked.py, which
also keeps the schedule through steps of the wall clock), `coalesce=True` (after
downtime a job runs once, not once per missed time) and `max_instances=1` (a job never
overlaps itself). APScheduler's job store is in
memory and never shared; which process schedules is decided by a PostgreSQL
advisory lock (storage/leadership.py), re-proved at every heartbeat and before each
fire: a leader whose lock went with its connection (a restart, a failover, a
terminated backend) steps down at once and tries again, and a standby keeps trying
through any database error. On SQLite one process is assumed.

Paused jobs (JobState rows, set by /pause from any process) are read at fire time,
and again when a worker picks up a fire that waited in the queue; a paused fire
records nothing, and /jobs shows the job as paused.

Job work blocks, so it runs in daemon threads: a job that ignores shutdown cannot
keep the process alive; its run is recorded `interrupted` after the grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_SUBMITTED,
    JobSubmissionEvent,
)

from jobs.context import Context
from jobs.core.text import plural
from jobs.core.threads import in_daemon_thread
from jobs.core.work_slots import Waiting
from jobs.running.clocked import ClockedScheduler
from jobs.running.fire_queue import FireStillWaiting, InOrder, fires_for
from jobs.running.missed import (
    BATCH_PREFIX,
    JOB_PREFIX,
    MissLedger,
    record_downtime_misses,
)
from jobs.running.upkeep import LeaderUpkeep
from jobs.runs import records as runs
from jobs.runs.specs import job_specs, make_trigger
from jobs.runs.system import is_own
from storage import heartbeats
from storage.leadership import LeaderLock, one_line

log = logging.getLogger(__name__)

# How long one lock query may take before the lock counts as lost (a cut network can
# leave a query waiting far longer).
PROVE_DEADLINE_S = 10.0
T = TypeVar("T")


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
        self._scheduler: ClockedScheduler | None = None
        self._lock = LeaderLock(context.engine)
        # Ends the heartbeat's wait: a fire found the lock gone (step down now), or stop().
        self._lost = asyncio.Event()
        self._stop_event = asyncio.Event()
        self._submitted: dict[str, datetime] = {}
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._active_runs: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = context.clock()
        self._stopping = False
        self._misses = MissLedger(context)
        self._upkeep = LeaderUpkeep(context, self._misses)
        self._order = InOrder()
        self._fires = fires_for(
            context, self.cancel, heartbeat_s=heartbeat_every, grace_s=shutdown_grace
        )

    # --- life cycle -------------------------------------------------------------
    async def start(self) -> None:
        """Return at once; lead (schedule) whenever the lock is ours."""
        if not self.context.config.scheduler.enabled:
            log.info("scheduler disabled in the configuration")
            return
        await self._fires.start()  # every replica runs fires, whoever leads
        self._tasks.append(asyncio.create_task(self._lead(), name="scheduler-lead"))

    async def _lead(self) -> None:
        """Forever: take the lock, schedule while it is proved ours at every heartbeat
        (and before each fire), step down the moment it is not, and try again. No
        database error ends this loop."""
        standing_by, failing = False, 0
        while not self._stopping:
            try:
                got = await self._within_deadline(self._lock.acquire)
                failing = 0
            except Exception as exc:
                failing += 1
                if failing & (failing - 1) == 0:  # 1, 2, 4, 8, …: an outage is a few lines
                    log.warning(
                        "could not try the scheduler lock (attempt %d: %s); trying again every %gs",
                        failing,
                        one_line(exc),
                        self.lock_retry,
                    )
                got = False
            if not got:
                if not standing_by and not failing:
                    log.info("another process holds the scheduler lock; standing by")
                    standing_by = True
                await self._pause(self.lock_retry)
                continue
            standing_by = False
            try:
                catch_up = await asyncio.to_thread(
                    record_downtime_misses, self.context, self._planned()
                )
                self._begin(catch_up)
            except Exception:
                log.exception("the scheduler could not start; trying again")
                self._step_down("it could not start")
                await self._pause(self.lock_retry)
                continue
            self.leading.set()
            log.info("leading the scheduler")
            await self._lead_while_proved()

    async def _lead_while_proved(self) -> None:
        """Heartbeats while the lock is proved ours; returns having stepped down."""
        self._lost.clear()
        while not self._stopping:
            if not await self.prove_leadership():
                self._step_down("the scheduler lock was lost")
                return
            try:
                await asyncio.to_thread(self._beat, "up")
                await asyncio.to_thread(self._upkeep.after_heartbeat)
                await self._fires.sweep()
            except Exception as exc:
                log.warning("scheduler heartbeat failed: %s", one_line(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), timeout=self.heartbeat_every)

    async def prove_leadership(self) -> bool:
        """Whether the lock is still ours, asked of the database (always, on SQLite)."""
        try:
            return bool(await self._within_deadline(self._lock.held))
        except Exception as exc:
            log.warning("could not prove the scheduler lock: %s", one_line(exc))
            return False

    async def _within_deadline(self, call: Callable[[], T]) -> T:
        """A lock call in a daemon thread, given up after PROVE_DEADLINE_S (a cut
        network can hang a query far longer); a call given up counts as a failure."""
        try:
            return await asyncio.wait_for(in_daemon_thread(call), PROVE_DEADLINE_S)
        except TimeoutError:
            raise TimeoutError("the database did not answer in time") from None

    def _step_down(self, why: str) -> None:
        """No more fires from here; running jobs go on. The lock, if still somehow
        held, is dropped with its connection, in a thread of its own: a call stuck on
        a cut network must not hold up stepping down."""
        was_leading = self.leading.is_set()
        self.leading.clear()
        if self._scheduler is not None:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=False)
            self._scheduler = None
        threading.Thread(target=self._lock.drop, name="scheduler-lock-drop", daemon=True).start()
        if was_leading:
            log.warning("stepped down as scheduler leader: %s; standing by", why)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_event.wait(), timeout=seconds)

    def _begin(self, catch_up: dict[str, datetime]) -> None:
        config = self.context.config
        scheduler = ClockedScheduler(self.context.clock, timezone=config.scheduler.timezone)
        now = self.context.clock()
        for entry, schedule, timezone in self._planned():
            trigger = make_trigger(schedule, timezone, now)
            # A fire of the gap between two leaders, still within the grace: run it now.
            first = catch_up.get(entry) or trigger.get_next_fire_time(None, now)
            scheduler.add_job(
                self._fire,
                trigger,
                args=[entry],
                id=entry,
                name=entry,
                misfire_grace_time=None,  # judged in _fire, on the injected clock
                coalesce=True,
                max_instances=1,
                replace_existing=True,
                next_run_time=first,
            )
        scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        scheduler.add_listener(self._on_still_running, EVENT_JOB_MAX_INSTANCES)
        scheduler.start()
        self._scheduler = scheduler
        log.info("scheduler started with %d entries", len(scheduler.get_jobs()))

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
        self._stop_event.set()
        # Wakes the heartbeat's wait too: cancelling the task is not enough on its own,
        # since Python 3.11's wait_for swallows a cancel that meets a finished call (a
        # lock proved at that moment) and the loop would sleep a whole heartbeat.
        self._lost.set()
        # Runs still waiting for a worker start no more: each is recorded interrupted.
        self.context.run_control.slots.close()
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
        await self._fires.stop()  # the queue's runs here get the same grace, then the cancel
        control = self.context.run_control
        if control.active():
            self.cancel.set()
            await asyncio.to_thread(control.wait_idle, 5.0)
        try:
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
        except Exception as exc:
            log.warning("could not record the scheduler's stop: %s", one_line(exc))
        self.leading.clear()
        with contextlib.suppress(TimeoutError):
            await self._within_deadline(self._lock.release)

    # --- firing -----------------------------------------------------------------
    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        # Runs on the loop before the submitted coroutine starts: hand it its time.
        if event.scheduled_run_times:
            self._submitted[event.job_id] = event.scheduled_run_times[-1]

    def _on_still_running(self, event: JobSubmissionEvent) -> None:
        # max_instances=1: a fire while the previous run goes on is skipped — a miss too.
        for scheduled_at in event.scheduled_run_times:
            asyncio.get_running_loop().run_in_executor(
                None, self._misses.record, event.job_id, scheduled_at, "previous run still going"
            )

    async def _fire(self, entry: str) -> None:
        scheduled_at = self._submitted.pop(entry, None) or self.context.clock()
        if self._stopping:
            return
        late = self.context.clock() - scheduled_at > self.context.config.scheduler.misfire_grace
        # Its number (the order to the queue) and a job's place among the runs waiting
        # for a worker here are taken now, before any await: fires start in order.
        slots, number, place = self.context.run_control.slots, self._order.number(), None
        job = entry.partition(":")[2]
        if entry.startswith(JOB_PREFIX) and not is_own(job):
            place = slots.enqueue(job, "scheduled", self.context.clock())
        leading = await self.prove_leadership()
        if not leading or late:
            self._order.done(number)
            if place is not None:
                slots.withdraw(place)
        if not leading:
            # Another replica may lead now: this fire is its to make, not ours.
            log.warning("%s not fired: the scheduler lock is no longer ours", entry)
            self._lost.set()
            return
        if late:  # the loop or the process was held up past the grace: a miss
            await asyncio.to_thread(self._misses.record, entry, scheduled_at, "late")
            return
        # Our own task: APScheduler cancels its coroutines at shutdown, but a running
        # job gets the grace, then the cancel event (see stop()).
        run = self._run_entry(entry, scheduled_at, number, place)
        work = asyncio.create_task(run, name=entry)
        self._in_flight.add(work)
        work.add_done_callback(self._in_flight.discard)
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            return  # the scheduler is shutting down; stop() takes care of `work`
        except Exception:
            log.exception("scheduled %s failed", entry)

    async def _run_entry(
        self, entry: str, scheduled_at: datetime, number: int, place: Waiting | None
    ) -> None:
        started: list[int] = []

        def on_start(run_id: int) -> None:
            started.append(run_id)
            self._active_runs.add(run_id)

        try:
            try:
                await self._order.turn(number)
                paused = await self._misses.paused_or_missed(
                    entry, scheduled_at, lambda: self._stopping, self._pause
                )
                if paused is None:
                    return  # recorded missed: the database did not answer within the grace
                if entry.partition(":")[2] in paused:
                    log.info("%s is paused; not running", entry)
                    return
                running = await self._fires.submit(entry, scheduled_at, on_start, place)
            finally:
                self._order.done(number)
            if running is not None:
                await running
        except FireStillWaiting:
            why = "its previous fire was still waiting for a worker"
            await asyncio.to_thread(self._misses.record, entry, scheduled_at, why)
        finally:
            self._active_runs.difference_update(started)
            if place is not None:  # a fire not run after all leaves the line
                self.context.run_control.slots.withdraw(place)

    # --- heartbeat ----------------------------------------------------------------
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
