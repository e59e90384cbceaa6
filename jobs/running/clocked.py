"""APScheduler on the injected clock, through steps of the wall clock.

APScheduler 3 asks `datetime.now()` what time it is but sleeps on the event loop's
monotonic timer. When the wall clock steps (an NTP correction, a VM restored from a
snapshot), the two disagree: a step back of an hour left every `every …` job waiting an
hour, a step forward made each fire it jumped over late beyond the misfire grace.

`ClockedScheduler` reads the time from `Context.clock` (so a test can step it), never
sleeps longer than `RECHECK_S`, and compares how far the clock moved with how far the
monotonic clock moved at each wake-up. A difference above `STEP_TOLERANCE_S` is a step,
and the plan is mended (`mended_fire`):

- `every …` jobs keep their period: the next fire moves with the step;
- a cron job the step back took behind a fire it already made does not make it again,
  unless it fires more often than the step is long (a `*/5` job goes on every five
  minutes through the repeated hour; a nightly one does not run twice);
- a cron fire a step forward jumped over runs once, now (several jumped over: once).

Which fires are late past the misfire grace is judged on the same clock, in
JobScheduler._fire, so APScheduler's own misfire check (on the real clock) is off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_SUBMITTED,
    JobSubmissionEvent,
)
from apscheduler.executors.base import MaxInstancesReachedError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from jobs.core.text import span

log = logging.getLogger(__name__)

# The longest APScheduler sleeps: a step of the clock is noticed within this.
RECHECK_S = 10.0
# A difference between the wall and the monotonic clock smaller than this is drift
# (or a busy loop), not a step.
STEP_TOLERANCE_S = 5.0


def mended_fire(trigger: Any, planned: datetime, step: timedelta, now: datetime) -> datetime:
    """The next fire of a job planned for `planned` after the clock stepped by `step`
    to `now` (pure: see the module's docstring for the rules)."""
    if isinstance(trigger, IntervalTrigger):
        return planned + step
    if step > timedelta(0):
        return now if planned < now else planned
    following = trigger.get_next_fire_time(planned, planned + timedelta(seconds=1))
    period = (following - planned) if following is not None else None
    if period is not None and period < -step:
        return trigger.get_next_fire_time(None, now) or planned
    return planned


class ClockedScheduler(AsyncIOScheduler):
    """AsyncIOScheduler reading `clock` for the time and mending its plan after a step
    of it. Every job is coalesced and has no APScheduler misfire grace."""

    def __init__(self, clock: Callable[[], datetime], **options: Any) -> None:
        super().__init__(**options)
        self._clock = clock
        self._last_seen: tuple[datetime, float] | None = None

    def now(self) -> datetime:
        return self._clock().astimezone(self.timezone)

    def _noticed_step(self, now: datetime) -> timedelta | None:
        """How far the clock stepped since the last look (None: it did not)."""
        monotonic = time.monotonic()
        last, self._last_seen = self._last_seen, (now, monotonic)
        if last is None:
            return None
        step = (now - last[0]) - timedelta(seconds=monotonic - last[1])
        return step if abs(step.total_seconds()) > STEP_TOLERANCE_S else None

    def _mend(self, store: Any, step: timedelta, now: datetime) -> None:
        direction = "forward" if step > timedelta(0) else "back"
        log.warning("the clock stepped %s by %s; the schedule follows", direction, span(abs(step)))
        for job in store.get_all_jobs():
            if job.next_run_time is None:
                continue
            mended = mended_fire(job.trigger, job.next_run_time, step, now)
            if mended != job.next_run_time:
                job._modify(next_run_time=mended)
                store.update_job(job)

    def _process_jobs(self) -> float | None:
        """APScheduler's round (due jobs submitted, coalesced, the next plan), on
        `clock`, after mending the plan if the clock stepped."""
        now = self.now()
        step = self._noticed_step(now)
        events: list[JobSubmissionEvent] = []
        next_wakeup: datetime | None = None
        with self._jobstores_lock:
            for alias, store in self._jobstores.items():
                if step is not None:
                    self._mend(store, step, now)
                for job in store.get_due_jobs(now):
                    run_times = job._get_run_times(now)[-1:]
                    if not run_times:
                        continue
                    try:
                        self._lookup_executor(job.executor).submit_job(job, run_times)
                        code = EVENT_JOB_SUBMITTED
                    except MaxInstancesReachedError:
                        code = EVENT_JOB_MAX_INSTANCES
                    events.append(JobSubmissionEvent(code, job.id, alias, run_times))
                    following = job.trigger.get_next_fire_time(run_times[-1], now)
                    if following is None:
                        self.remove_job(job.id, alias)
                        continue
                    job._modify(next_run_time=following)
                    store.update_job(job)
                store_next = store.get_next_run_time()
                if store_next is not None and (next_wakeup is None or store_next < next_wakeup):
                    next_wakeup = store_next
        for event in events:
            self._dispatch_event(event)
        if next_wakeup is None:
            return RECHECK_S
        wait = (next_wakeup - self.now()).total_seconds()
        return min(max(wait, 0.0), RECHECK_S)
