"""A job's incident, played on the injected clock: `flaky` fails, the scheduled health
check alerts, it fails again, works again, and the health check sees it recover."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs.config.schema import Config
from jobs.context import Context
from jobs.digest.job import post_health_alerts
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from storage.models import OutboxPost
from tests.support.clock import TravelClock
from tests.support.rows import scheduler_beats

JOB = "flaky"


def incident_config(target: str, healed: Path) -> Config:
    """`flaky` runs every 15 minutes and fails until the file `healed` exists; its
    posts and the alerts go to `target`."""
    return Config.model_validate(
        {
            "jobs": [
                {
                    "name": JOB,
                    "command": f"echo checking; test -f '{healed}'",
                    "schedule": "every 15m",
                    "post_to": [target],
                }
            ],
            "digest": {"post_to": [target]},
            "health": {"grace": "5m"},
        }
    )


def _health_check(context: Context, clock: TravelClock) -> None:
    """The scheduler's health job, with the scheduler alive."""
    scheduler_beats(context.engine, clock.now)
    post_health_alerts(context, clock.now)


def play_incident(context: Context, clock: TravelClock, healed: Path) -> None:
    """Fail, alert, fail again, heal, work, recover: five posts about `flaky`."""
    spec = find_job(context.config, JOB)
    assert spec is not None
    assert run_job(context, spec, "schedule").status == "failed"
    clock.advance(minutes=1)
    _health_check(context, clock)
    clock.advance(minutes=14)
    assert run_job(context, spec, "schedule").status == "failed"
    healed.touch()
    clock.advance(minutes=15)
    assert run_job(context, spec, "schedule").status == "ok"
    clock.advance(minutes=1)
    _health_check(context, clock)


def root_ref(engine: Engine) -> str:
    """The platform's id of the incident's first post (the first failure's)."""
    with Session(engine) as session:
        first = session.exec(select(OutboxPost).where(OutboxPost.kind == "job")).first()
    assert first is not None and first.message_ref is not None
    return first.message_ref
