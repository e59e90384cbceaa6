"""What one scheduler fire runs, blocking, in the fire's own thread: a job (in the
place among the runs waiting for a worker that the fire took) or a whole batch."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from jobs.context import Context
from jobs.core.work_slots import Waiting
from jobs.running.missed import BATCH_PREFIX
from jobs.running.runner import run_batch, run_job
from jobs.runs import records as runs
from jobs.runs.specs import find_batch, find_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FireOptions:
    scheduled_at: datetime
    cancel: threading.Event
    on_start: Callable[[int], None]
    place: Waiting | None  # a job's place in the line, taken when it fired
    queued_at: datetime | None = None  # when the leader queued it (on PostgreSQL)


def run_fired(context: Context, entry: str, fire: FireOptions) -> None:
    """Run the scheduler entry `entry` ("job:NAME" or "batch:NAME"); an entry no
    longer configured runs nothing, nor one paused since it fired (a fire may wait for
    a free worker, in the queue or in this process's line): as a paused fire, it
    records nothing."""
    name = entry.partition(":")[2]
    if name in runs.paused_jobs(context.engine):
        log.info("%s was paused while its fire waited for a worker; not running", entry)
        return
    if entry.startswith(BATCH_PREFIX):
        if find_batch(context.config, name) is not None:
            run_batch(
                context,
                name,
                scheduled_at=fire.scheduled_at,
                cancel=fire.cancel,
                on_start=fire.on_start,
            )
        return
    spec = find_job(context.config, name)
    if spec is not None:
        run_job(
            context,
            spec,
            "schedule",
            scheduled_at=fire.scheduled_at,
            cancel=fire.cancel,
            on_start=fire.on_start,
            place=fire.place,
            queued_at=fire.queued_at,
        )
