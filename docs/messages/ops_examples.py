"""Jobs, their incidents, health and the digest, over a team's jobs with two weeks of
run history: real runs through the runner, the scheduled health check, the outbox rows
they leave (thread included) and the commands people type."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select, update
from world import DANA, NOW, Example, World

from handlers.access import Caller
from jobs.context import Context
from jobs.core.reply import Reply
from jobs.digest.job import post_health_alerts
from jobs.outbox.delivery import EDIT_KIND, OutboxSender, Post
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from storage.db import session_scope
from storage.models import Heartbeat, JobRun, OutboxPost

TEAM = "slack:C0TEAM"
ADMIN = Caller("slack", "U0DANA", "C0TEAM", name="Dana", command_prefix="/opsdesk ")
# An hour before the morning's post: the incident happens then.
INCIDENT_AT = NOW - timedelta(hours=3)


def config_for(healed: Path, started: Path) -> dict[str, object]:
    """Three team jobs, one of them failing until `healed` exists; the digest and the
    alerts go to the team channel, in the team's zone. Each job's command first leaves
    `started`, so the clock knows the run is under way (see _taking)."""
    go = f"touch '{started}'; "
    return {
        "jobs": [
            {"name": "backup", "command": go + "echo 'backup: 1,204 files, 3.1 GB'",
             "schedule": "0 2 * * *", "post_to": [TEAM]},
            {"name": "issue-triage", "command": go + "echo 'triaged 14 issues'",
             "schedule": "0 5 * * *"},
            {"name": "deploy-docs",
             "command": go + f"test -f '{healed}' && echo 'docs deployed' "
                        "|| { echo 'rsync: connection refused (docs.internal:22)' >&2; exit 12; }",
             "schedule": "every 1h", "post_to": [TEAM]},
        ],
        "scheduler": {"timezone": "Europe/Berlin"},
        "digest": {"post_to": [TEAM], "time": "08:00"},
        "health": {"grace": "10m"},
        "access": {"admins": ["slack:U0DANA"], "viewers": ["slack:U0LEE", "telegram:42"]},
    }  # fmt: skip


def _history(world: World) -> None:
    """Two weeks of nightly runs in the team's zone: backup steady at about 40 s until
    last night's 3 min, issue-triage steady, deploy-docs hourly, the digest each
    morning."""
    rows = []
    for day in range(15):
        night = (NOW - timedelta(days=day)).replace(hour=1, minute=0)
        backup_ms = 40_000 + 700 * (day % 5) if day else 185_000
        rows.append(_row("backup", night, backup_ms))
        rows.append(_row("issue-triage", night.replace(hour=4), 6_000 + 200 * (day % 3)))
        if day:
            rows.append(_row("digest", night.replace(hour=7), 900))
    for hour in range(1, 30):
        rows.append(_row("deploy-docs", INCIDENT_AT - timedelta(hours=hour), 2_000))
    with session_scope(world.engine) as session:
        session.add_all(rows)


def _row(job: str, started: datetime, duration_ms: int) -> JobRun:
    kind = job if job in ("digest", "health") else "command"
    return JobRun(
        job=job, kind=kind, trigger="schedule", runner="docs", status="ok",
        started_at=started, scheduled_at=started,
        finished_at=started + timedelta(milliseconds=duration_ms), duration_ms=duration_ms,
        output="",
    )  # fmt: skip


def _scheduler_alive(world: World) -> None:
    """The scheduler's heartbeat now, and its health check's run a minute ago."""
    with session_scope(world.engine) as session:
        session.merge(
            Heartbeat(component="scheduler", holder="docs:1", status="up", detail="{}",
                      started_at=NOW - timedelta(days=20), beat_at=world.now)
        )  # fmt: skip
        session.add(_row("health", world.now - timedelta(minutes=1), 40))


class Channel:
    """The team's Slack channel, standing in for Slack: it takes every post."""

    async def deliver(self, post: Post) -> str:
        return f"1700000000.{post.id:06d}"


def _delivered(world: World) -> None:
    """The outbox sends what it holds (replies after the posts they answer)."""
    sender = OutboxSender(world.engine, {"slack": Channel()})
    while asyncio.run(sender.send_due()):
        pass


def _steady_reviews(world: World) -> None:
    """The review runs' measured durations as one steady figure, as on the rest of
    the page (the digest's figures would otherwise change from one drawing to the next)."""
    with world.engine.begin() as connection:
        connection.execute(
            update(JobRun).where(col(JobRun.kind) == "review").values(duration_ms=300)
        )


@contextmanager
def _taking(world: World, context: Context, at: datetime, seconds: float) -> Iterator[None]:
    """A run started at `at` that takes `seconds`: the clock reads `at` until the job's
    command has started (it leaves world.started), `at` + `seconds` after; after the
    run, the world's time is that."""
    world.started.unlink(missing_ok=True)

    def clock() -> datetime:
        return at + timedelta(seconds=seconds if world.started.exists() else 0)

    world.now = at
    context.clock = clock
    try:
        yield
    finally:
        world.now = at + timedelta(seconds=seconds)
        context.clock = lambda: world.now


def _thread(world: World) -> tuple[Reply, list[Reply]]:
    """The posts of the incident in the team channel: its root and its thread."""
    with Session(world.engine) as session:
        rows = session.exec(
            select(OutboxPost).where(OutboxPost.target == TEAM).order_by(OutboxPost.id)
        ).all()
    about = [row for row in rows if "deploy-docs" in row.reply_json]
    root = next(row for row in about if row.thread_key is None)
    replies = [row for row in about if row.thread_key == root.dedupe_key]
    # The root as the channel shows it at the end: redrawn by the run that ended it.
    redrawn = [row for row in replies if row.kind == EDIT_KIND]
    return (
        Reply.model_validate_json((redrawn or [root])[-1].reply_json),
        [Reply.model_validate_json(row.reply_json) for row in replies if row.kind != EDIT_KIND],
    )


def examples(world: World) -> list[Example]:
    healed = world.root / "docs-host-back"
    router = world.router(config_for(healed, world.started))
    context = router.context
    _history(world)
    deploy = find_job(context.config, "deploy-docs")
    assert deploy is not None

    # 04:00 CET: deploy-docs fails, the health check alerts, it fails again, then works;
    # the channel's adapter sends each post as it comes.
    with _taking(world, context, INCIDENT_AT, 2.1):
        run_job(context, deploy, "schedule", scheduled_at=INCIDENT_AT)
    _delivered(world)
    world.now = INCIDENT_AT + timedelta(minutes=2)
    _scheduler_alive(world)
    post_health_alerts(context, world.now)
    _delivered(world)
    with _taking(world, context, INCIDENT_AT + timedelta(hours=1), 2.1):
        run_job(context, deploy, "schedule", scheduled_at=INCIDENT_AT + timedelta(hours=1))
    healed.touch()
    with _taking(world, context, INCIDENT_AT + timedelta(hours=2), 1.8):
        run_job(context, deploy, "schedule", scheduled_at=INCIDENT_AT + timedelta(hours=2))
    world.now = INCIDENT_AT + timedelta(hours=2, minutes=2)
    _scheduler_alive(world)
    post_health_alerts(context, world.now)
    _delivered(world)
    root, thread = _thread(world)

    world.now = NOW
    _scheduler_alive(world)
    _steady_reviews(world)
    digest = router.handle(DANA, "/digest")
    jobs = router.handle(DANA, "/jobs")
    health_up = router.handle(DANA, "/health")
    with _taking(world, context, NOW, 41.2):
        ran = router.handle(ADMIN, "/run backup")

    misspelt = router.handle(ADMIN, "/run bakup")
    viewer = Caller("slack", "U0LEE", "C0TEAM", name="Lee", command_prefix="/opsdesk ")
    refused = router.handle(viewer, "/run backup")

    healed.unlink()
    with _taking(world, context, NOW + timedelta(minutes=5), 2.1):
        router.handle(ADMIN, "/run deploy-docs")
    world.now = NOW + timedelta(minutes=6)
    _scheduler_alive(world)
    health_down = router.handle(DANA, "/health")
    world.now = NOW
    _delivered(world)

    errors = [
        Example(
            "error-unknown-job",
            "Errors and answers",
            "A misspelt job",
            "`/run bakup`: answered at once, to the asker alone, with the command it most "
            "likely meant.",
            misspelt,
            measured=False,
        ),
        Example(
            "error-refused",
            "Errors and answers",
            "A command someone may not use",
            "`/run backup` by a viewer: a refusal that says what to ask for, to them alone.",
            refused,
            measured=False,
        ),
    ]
    return [
        Example(
            "digest",
            "Digest",
            "The morning digest",
            "Posted every morning at `[digest] time` (and answered to `/digest`): what "
            "changed and what to look at first, then the figures, in the team's zone; the "
            "chart follows as an image.",
            digest,
            measured=False,
        ),
        Example(
            "incident",
            "Jobs and alerts",
            "A failure, its alert and its recovery: one thread",
            "deploy-docs failed at 04:00: its post is the one message in the channel, "
            "redrawn in place when the job works again. The health check's alert, the "
            "next failure and the run that worked again, with the recovery, are replies "
            "in its thread.",
            root,
            thread=tuple(thread),
            measured=False,
        ),
        Example(
            "run",
            "Jobs and alerts",
            "A job run by hand",
            "`/run backup` by an admin in the channel the job posts to: the answer is the "
            "one message there.",
            ran,
            measured=False,
        ),
        Example(
            "jobs",
            "Jobs and alerts",
            "The jobs",
            "`/jobs`: each job's schedule in words, in the team's zone, its last run and "
            "its failures among the last runs; failing ones first, opsdesk's own apart.",
            jobs,
            measured=False,
        ),
        Example(
            "health-up",
            "Health",
            "Health, all up",
            "`/health` when nothing needs anyone: one line, with the next scheduled run.",
            health_up,
            measured=False,
        ),
        Example(
            "health-down",
            "Health",
            "Health, something down",
            "`/health` after deploy-docs failed again: the problem first, with its cause "
            "and what to do; the rest in one line (`/health all` lists every component).",
            health_down,
            measured=False,
        ),
        *errors,
    ]
