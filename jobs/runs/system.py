"""opsdesk's own scheduled jobs: the daily digest and the health check.

Both are listed here, from the config alone, so the scheduler, /jobs and health see
the same jobs (and no import cycle forms between health and the digest)."""

from __future__ import annotations

from jobs.config.schema import Config
from jobs.runs.job import JobSpec

DIGEST_JOB = "digest"
HEALTH_JOB = "health"
# Health is derived at read time; this job only posts when a component changes.
HEALTH_CHECK_SCHEDULE = "every 5m"


def is_own(job: str) -> bool:
    """Whether `job` is one of opsdesk's own. They take no worker slot and wait in no
    line (`[scheduler] workers`): a few reads and a post, they must not wait behind
    the night's reviews — a health check held up behind them could not say that one
    of them is late, and the day's digest would come when the night ends."""
    return job in (DIGEST_JOB, HEALTH_JOB)


def digest_timezone(config: Config) -> str:
    return config.digest.timezone or config.scheduler.timezone


def digest_schedule(config: Config) -> tuple[str, str]:
    """(cron expression, timezone) of the daily digest, e.g. ("0 9 * * *", "Europe/Berlin")."""
    hour, minute = config.digest.time.split(":")
    return f"{int(minute)} {int(hour)} * * *", digest_timezone(config)


def system_specs(config: Config) -> list[JobSpec]:
    """The daily digest and the health check, when the digest has somewhere to post
    (`digest.post_to`); without targets both stay on demand (/digest, /health), and
    a console-only set-up needs no scheduler."""
    if not config.digest.post_to:
        return []
    specs = [JobSpec(name=HEALTH_JOB, kind="health", schedule=HEALTH_CHECK_SCHEDULE)]
    if config.digest.enabled:
        cron, timezone = digest_schedule(config)
        specs.append(JobSpec(name=DIGEST_JOB, kind="digest", schedule=cron, timezone=timezone))
    return specs
