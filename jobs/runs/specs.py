"""Which jobs the configuration declares, and their schedules' triggers.

Job names: a `[[jobs]]` entry is its own name; a repository with a `schedule` is the
job `review:<repo>` (the colon cannot occur in a configured name, so they never
clash); `digest` and `health` come from jobs/runs/system.py. Batches are named by
their `[[batches]]` entry. The scheduler, /jobs and health all read this one list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs.config.schema import BatchConfig, Config, schedule_from
from jobs.runs.job import JobSpec
from jobs.runs.system import system_specs

REVIEW_PREFIX = "review:"


def command_specs(config: Config) -> list[JobSpec]:
    return [
        JobSpec(
            name=job.name,
            kind=job.kind,
            schedule=job.schedule,
            batch=job.batch,
            post_to=tuple(job.post_to),
            cache=job.cache,
            source=job,
        )
        for job in config.jobs
    ]


def review_specs(config: Config) -> list[JobSpec]:
    """A repository becomes a job when it has a schedule or is in a batch."""
    return [
        JobSpec(
            name=f"{REVIEW_PREFIX}{repo.name}",
            kind="review",
            schedule=repo.schedule,
            batch=repo.batch,
            post_to=tuple(repo.post_to),
            source=repo,
        )
        for repo in config.repos
        if repo.schedule or repo.batch
    ]


SPEC_SOURCES: list[Callable[[Config], list[JobSpec]]] = [
    command_specs,
    review_specs,
    system_specs,
]


def job_specs(config: Config) -> list[JobSpec]:
    return [spec for source in SPEC_SOURCES for spec in source(config)]


def find_job(config: Config, name: str) -> JobSpec | None:
    return next((s for s in job_specs(config) if s.name == name), None)


def find_batch(config: Config, name: str) -> BatchConfig | None:
    return next((b for b in config.batches if b.name == name), None)


def batch_members(config: Config, batch: str) -> list[JobSpec]:
    return [s for s in job_specs(config) if s.batch == batch]


def make_trigger(schedule: str, timezone: str, start: datetime | None = None) -> BaseTrigger:
    """A cron expression in `timezone`, or 'every <duration>' (counted from `start`,
    the injected clock's now; else from the wall clock's)."""
    parsed = schedule_from(schedule)
    assert parsed is not None
    zone = ZoneInfo(timezone)
    if parsed.every is not None:
        first = {"start_date": start + parsed.every} if start is not None else {}
        return IntervalTrigger(seconds=parsed.every.total_seconds(), timezone=zone, **first)
    assert parsed.cron is not None
    return CronTrigger.from_crontab(parsed.cron, timezone=zone)


def next_fire_time(
    schedule: str, timezone: str, now: datetime, previous: datetime | None = None
) -> datetime | None:
    """Derived from the trigger, so any process can show it.

    An interval counts from the previous fire when known, else from now."""
    trigger = make_trigger(schedule, timezone)
    if isinstance(trigger, IntervalTrigger) and previous is not None:
        step = timedelta(seconds=trigger.interval_length)
        upcoming = previous + step
        while upcoming <= now:
            upcoming += step
        return upcoming
    return trigger.get_next_fire_time(None, now)
