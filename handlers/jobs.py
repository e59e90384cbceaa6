"""/jobs, /run, /pause, /resume: the scheduled jobs from chat (and the shell)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from handlers.feedback import remember_shown
from handlers.names import name_arg, unknown_job
from handlers.router import Request, UsageError
from jobs.context import Context
from jobs.core.reply import Block, Reply, ReplyField
from jobs.core.text import duration
from jobs.core.when import ago, schedule_words
from jobs.running.runner import batch_reply, run_batch, run_job_for_reply
from jobs.runs import records as runs
from jobs.runs.specs import find_batch, find_job, job_specs, next_fire_time
from jobs.runs.system import DIGEST_JOB, HEALTH_JOB

SYSTEM_JOBS = frozenset({DIGEST_JOB, HEALTH_JOB})


_GOOD = ("ok", "cached")
RECENT_RUNS = 5


@dataclass(frozen=True)
class JobLine:
    name: str
    kind: str
    schedule: str  # "every 15m", a cron expression, "batch <name>", or "manual"
    next_run: datetime | None
    paused: bool
    last_status: str | None
    last_started: datetime | None
    last_duration_ms: int | None
    # Statuses of the last few finished runs, newest first (a batch: its members').
    recent: tuple[str, ...] = ()
    internal: bool = False  # opsdesk's own (the digest, the health check)
    # The schedule in words, in the team's zone: "daily 06:00 CET".
    schedule_words: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("next_run", "last_started"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @property
    def failures(self) -> int:
        return sum(status not in _GOOD for status in self.recent)


def _words(schedule: str, timezone: str, now: datetime) -> str:
    if schedule == "manual" or schedule.startswith("batch "):
        return "by hand" if schedule == "manual" else f"in {schedule}"
    return schedule_words(schedule, timezone, now)


def job_lines(context: Context) -> list[JobLine]:
    """Every job and batch with its schedule, next run (derived from the trigger,
    so it is right whichever process schedules) and last runs."""
    config = context.config
    now = context.clock()
    timezone = config.scheduler.timezone
    specs = job_specs(config)
    names = [s.name for s in specs]
    latest = runs.last_runs(context.engine, names)
    recent = runs.recent_statuses(context.engine, names, RECENT_RUNS)
    paused = runs.paused_jobs(context.engine)
    lines = []
    for batch in config.batches:
        members = [s.name for s in specs if s.batch == batch.name]
        last = max(
            (latest[m] for m in members if m in latest), key=lambda r: r.started_at, default=None
        )
        member_runs = tuple(status for m in members for status in recent.get(m, [])[:1])
        lines.append(
            JobLine(
                batch.name,
                "batch",
                batch.schedule,
                _next(
                    batch.schedule, timezone, now, batch.name in paused, config.scheduler.enabled
                ),
                batch.name in paused,
                last.status if last else None,
                last.started_at if last else None,
                None,
                member_runs,
                schedule_words=_words(batch.schedule, timezone, now),
            )
        )
    for spec in specs:
        if spec.batch:
            schedule, next_run = f"batch {spec.batch}", None
        elif spec.schedule:
            schedule = spec.schedule
            next_run = _next(
                spec.schedule,
                spec.timezone or timezone,
                now,
                spec.name in paused,
                config.scheduler.enabled,
                previous=latest[spec.name].scheduled_at if spec.name in latest else None,
            )
        else:
            schedule, next_run = "manual", None
        last = latest.get(spec.name)
        lines.append(
            JobLine(
                spec.name,
                spec.kind,
                schedule,
                next_run,
                spec.name in paused,
                last.status if last else None,
                last.started_at if last else None,
                last.duration_ms if last else None,
                tuple(recent.get(spec.name, ())),
                internal=spec.name in SYSTEM_JOBS and spec.kind in SYSTEM_JOBS,
                schedule_words=_words(schedule, spec.timezone or timezone, now),
            )
        )
    return lines


def _next(
    schedule: str,
    timezone: str,
    now: datetime,
    paused: bool,
    enabled: bool,
    previous: datetime | None = None,
) -> datetime | None:
    if paused or not enabled:
        return None
    return next_fire_time(schedule, timezone, now, previous)


def _icon(line: JobLine) -> str:
    if line.paused:
        return "⏸"
    if line.last_status is None:
        return "•"
    return "✅" if line.last_status in _GOOD else "❌"


def _job_text(line: JobLine, now: datetime) -> str:
    """'✅ backup — daily 07:00 CET · last 2 h ago, 40.0s · next in 21 h'."""
    parts = [f"{_icon(line)} {line.name} — {line.schedule_words}"]
    if line.last_started is not None:
        last = f"last {ago(line.last_started, now)}"
        if line.last_status not in _GOOD:
            last += f" {line.last_status}"
        elif line.last_duration_ms is not None:
            last += f", {duration(line.last_duration_ms)}"
        parts.append(last)
    elif not line.paused:
        parts.append("not run yet")
    if line.failures:
        parts.append(f"{line.failures} of the last {len(line.recent)} failed")
    if line.paused:
        parts.append("paused")
    elif line.next_run is not None:
        parts.append(f"next {ago(line.next_run, now)}")
    return " · ".join(parts)


def jobs_reply(lines: list[JobLine], now: datetime) -> Reply:
    """The team's jobs, failing ones first, one line each; opsdesk's own apart."""
    if not lines:
        return Reply.text("No jobs are configured: add [[jobs]] or a repository schedule.", "Jobs")
    team = [line for line in lines if not line.internal]
    own = [line for line in lines if line.internal]
    team.sort(key=lambda line: (line.last_status in (None, *_GOOD), line.failures == 0))
    failing = sum(1 for line in team if line.last_status not in (None, *_GOOD))
    blocks = [Block(text="\n".join(_job_text(line, now) for line in team))] if team else []
    if own:
        parts = [
            f"{line.name} {line.schedule_words}"
            + (f" (last {ago(line.last_started, now)})" if line.last_started else "")
            for line in own
        ]
        blocks.append(Block(text="opsdesk's own: " + ", ".join(parts)))
    title = f"Jobs: {len(team)}" + (f", {failing} failing" if failing else "")
    return Reply(title=title, blocks=blocks)


def run_now(context: Context, name: str, answered_in: str | None = None) -> Reply:
    """Run a job or a whole batch now; the reply comes when it has finished. Its post
    skips `answered_in`, the chat the reply answers (one message there, not two)."""
    spec = find_job(context.config, name)
    if spec is not None:
        return run_job_for_reply(context, spec, "manual", answered_in=answered_in)[1]
    if find_batch(context.config, name) is not None:
        return batch_reply(run_batch(context, name, line="chat", answered_in=answered_in))
    raise UsageError(unknown_job(context, name))


def list_jobs(request: Request) -> Reply:
    """Jobs with schedule, last and next run, and failures among the last runs."""
    return jobs_reply(job_lines(request.context), request.context.clock())


def run(request: Request) -> Reply:
    """Run one job (or batch) now and answer when it ends, in the asker's chat (which
    the job's own post then skips); a review's findings can be marked from there."""
    reply = run_now(request.context, name_arg(request), request.caller.chat)
    return remember_shown(request, reply)


def _set_paused(request: Request, paused: bool) -> Reply:
    name = name_arg(request)
    changed = runs.set_paused(request.context.engine, name, paused, request.caller.principal)
    verb = "paused" if paused else "resumed"
    text = f"{name} {verb}." if changed else f"{name} was already {verb}."
    if paused:
        text += (
            " Scheduled fires are skipped (and not recorded) until "
            f"{request.caller.typed('/resume')}."
        )
    return Reply(
        title=f"{name}: {verb}",
        blocks=[Block(text=text)],
        fields=[ReplyField(label="By", value=request.caller.shown_name)],
    )


def pause(request: Request) -> Reply:
    """Skip a job's scheduled fires until resumed."""
    return _set_paused(request, True)


def resume(request: Request) -> Reply:
    """Let a paused job's schedule fire again."""
    return _set_paused(request, False)
