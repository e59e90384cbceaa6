"""Running a job or a batch: record the run, use the result cache, post the result.

Everything here blocks (subprocesses, git, the database); the scheduler calls it in a
worker thread and `/run` runs in the adapter's handler thread.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, Unpack

from pydantic import BaseModel
from sqlmodel import Session

from jobs.config.schema import JobConfig
from jobs.context import Context
from jobs.core.child_env import ChildEnvError
from jobs.core.reply import Block, Reply
from jobs.core.text import duration
from jobs.core.work_slots import Line, SlotsClosed, Waiting
from jobs.outbox.delivery import enqueue
from jobs.running.command import command_environ, command_workdir
from jobs.running.kinds import KINDS
from jobs.running.result_cache import CacheInputError, CacheInputs, fingerprint
from jobs.runs import records as runs
from jobs.runs.baseline import baseline_ms
from jobs.runs.incidents import post_run
from jobs.runs.job import JobOutcome, JobSpec, RunContext, Trigger
from jobs.runs.specs import batch_members, find_batch
from jobs.runs.system import is_own
from jobs.usage import gate
from storage.durable import until_written
from storage.models import JobRun

log = logging.getLogger(__name__)

# What a chat post shows of a job's output; the run row keeps up to 64 KiB.
POST_OUTPUT_CHARS = 2500


@dataclass(frozen=True)
class BatchResult:
    batch: str
    batch_id: str
    runs: list[JobRun]
    skipped: list[str]  # paused members

    @property
    def failed(self) -> list[JobRun]:
        return [r for r in self.runs if r.status not in ("ok", "cached")]


class RunOptions(TypedDict, total=False):
    """How a run is started, beyond the job and its trigger; every one optional."""

    scheduled_at: datetime | None
    batch_id: str | None
    # Default: the process's one stop signal (context.run_control).
    cancel: threading.Event | None
    # Post the result to the job's post_to (default True; a batch posts once for all).
    post: bool
    # The chat whoever ran it is answered in (`slack:C1`): the post skips it, so a
    # run asked for where the job posts anyway is one message there.
    answered_in: str | None
    # Called with the run id once the row exists (the scheduler tracks its runs).
    on_start: Callable[[int], None] | None
    # Which line the run waits in for a worker (default: chat for manual runs).
    line: Line
    # Its place in that line, when taken earlier (a scheduled fire takes it at once).
    place: Waiting | None
    # When it asked for a worker, when earlier than now (a fire queued by the leader).
    queued_at: datetime | None
    # A scheduled fire: not run when its job was paused while it waited for a worker
    # (raises PausedWhileWaiting, recording nothing, as a paused fire records nothing).
    unless_paused: bool


class PausedWhileWaiting(Exception):
    """The job was paused while its fire waited for a worker; it did not run."""


def run_job(
    context: Context, spec: JobSpec, trigger: Trigger, **options: Unpack[RunOptions]
) -> JobRun:
    """Run one job now and return its finished run row. Never raises for the job's
    own failures: they are the run's status and error."""
    return run_job_for_reply(context, spec, trigger, **options)[0]


def run_job_for_reply(
    context: Context, spec: JobSpec, trigger: Trigger, **options: Unpack[RunOptions]
) -> tuple[JobRun, Reply]:
    """`run_job`, and the reply that answers whoever asked for the run (the kind's
    own, e.g. a manual digest, or one made from the run row). The run first waits for
    one of the process's worker slots (chat-started runs in their own line)."""
    if is_own(spec.name):  # opsdesk's own: no slot to wait for
        now = context.clock()
        return _run_now(context, spec, trigger, options, options.get("queued_at") or now, now)
    control = context.run_control
    place = options.get("place")
    if place is None:
        line = options.get("line") or ("chat" if trigger == "manual" else "scheduled")
        place = control.slots.enqueue(spec.name, line, options.get("queued_at") or context.clock())
    try:
        with control.slots.hold(place, context.clock) as started_at:
            if options.get("unless_paused") and spec.name in runs.paused_jobs(context.engine):
                raise PausedWhileWaiting(spec.name)
            return _run_now(context, spec, trigger, options, place.queued_at, started_at)
    except SlotsClosed as closed:
        # Still waiting for a worker when opsdesk stopped: recorded interrupted (never
        # lost), its post sent like any other end.
        run_id = _start_row(context, spec, trigger, options, closed.queued_at, context.clock())
        outcome = JobOutcome(
            status="interrupted", error="opsdesk stopped before a worker was free to start it"
        )
        return _finish(context, spec, run_id, outcome, options)


def _run_now(
    context: Context,
    spec: JobSpec,
    trigger: Trigger,
    options: RunOptions,
    queued_at: datetime,
    started_at: datetime,
) -> tuple[JobRun, Reply]:
    """The run, from its row written `running` to its end and post."""
    run_id = _start_row(context, spec, trigger, options, queued_at, started_at)
    context.run_control.started(run_id)
    try:
        return _run_started(context, spec, trigger, run_id, options)
    finally:
        context.run_control.finished(run_id)


def _start_row(
    context: Context, spec: JobSpec, trigger: Trigger, options: RunOptions, *times: datetime
) -> int:
    """The run's row, `running`; `times`: when it was queued and when it started."""
    queued_at, started_at = times
    row = runs.start_run(
        context.engine,
        job=spec.name,
        kind=spec.kind,
        trigger=trigger,
        runner=context.runner_id,
        scheduled_at=options.get("scheduled_at"),
        batch_id=options.get("batch_id"),
        queued_at=queued_at,
        started_at=started_at,
    )
    assert row.id is not None
    return row.id


def _run_started(
    context: Context, spec: JobSpec, trigger: Trigger, run_id: int, options: RunOptions
) -> tuple[JobRun, Reply]:
    engine = context.engine
    on_start = options.get("on_start")
    if on_start is not None:
        on_start(run_id)
    ctx = RunContext(
        context=context,
        spec=spec,
        trigger=trigger,
        run_id=run_id,
        batch_id=options.get("batch_id"),
        scheduled_at=options.get("scheduled_at"),
        cancel=options.get("cancel") or context.run_control.cancel,
    )
    try:
        with runs.beating(engine, run_id):
            outcome = _run_with_cache(ctx)
    except Exception:
        error_id = uuid.uuid4().hex[:4]
        log.exception("job %s (run %s) raised (error %s)", spec.name, run_id, error_id)
        outcome = JobOutcome(
            status="failed",
            error=f"Something went wrong (error {error_id}); the log has the details.",
        )
    return _finish(context, spec, run_id, outcome, options)


def _finish(
    context: Context, spec: JobSpec, run_id: int, outcome: JobOutcome, options: RunOptions
) -> tuple[JobRun, Reply]:
    """Write the run's end and post its result (both kept until the database takes
    them)."""
    engine = context.engine
    finished_at = context.clock()

    def finish() -> JobRun | None:
        runs.finish_run(
            engine,
            run_id,
            status=outcome.status,
            finished_at=finished_at,
            output=outcome.output or None,
            error=outcome.error,
            cache_hit=outcome.status == "cached",
            cache_key=outcome.cache_key,
            tokens_in=outcome.tokens_in,
            tokens_out=outcome.tokens_out,
            model=outcome.model,
            model_latency_ms=outcome.model_latency_ms,
            review_id=outcome.review_id,
        )
        with Session(engine) as session:
            return session.get(JobRun, run_id)

    # A database outage here keeps the run's end (and then its post) in memory until
    # the database takes it: the row is never left `running` by the outage.
    finished = until_written(finish, f"run {run_id}'s end", kind="run end")
    if spec.kind == "review" and (outcome.tokens_in or outcome.tokens_out):
        # Its row is written now: the budget alerts its spending crossed.
        gate.after_model_review(context, spec.name.split(":", 1)[1])
    assert finished is not None
    log.info("job %s run %s: %s in %s ms", spec.name, run_id, finished.status, finished.duration_ms)
    # The baseline shows only on a cache hit: other runs skip its query.
    baseline = baseline_ms(engine, spec.name) if finished.cache_hit else None
    reply = outcome.reply or job_reply(finished, baseline)
    targets = posted_to(spec.post_to, options.get("answered_in"))
    if options.get("post", True) and targets:
        until_written(
            lambda: post_run(engine, spec.name, run_id, targets, reply, outcome.posts_after),
            f"run {run_id}",
            kind="post",
        )
    return finished, reply


def posted_to(targets: Sequence[str], answered_in: str | None) -> list[str]:
    """Where a run's result is posted: its targets but the chat already answered."""
    return [target for target in targets if target != answered_in]


def _run_with_cache(ctx: RunContext) -> JobOutcome:
    runner = KINDS.get(ctx.spec.kind)
    if runner is None:
        return JobOutcome(
            status="failed",
            error=f"this opsdesk has no runner for job kind {ctx.spec.kind!r} "
            f"(known: {', '.join(sorted(KINDS))})",
        )
    cache = ctx.spec.cache
    if cache is None:
        return runner(ctx)
    context = ctx.context
    source = ctx.spec.source
    if isinstance(source, JobConfig):
        definition: Any = source.model_dump(include={"kind", "command", "workdir", "env"})
        workdir = command_workdir(source)
        # Only hashed, for env:NAME cache inputs; the job's process gets child_environment.
        environ = {**os.environ, **_literal_env(source)}
    else:
        definition = source.model_dump() if isinstance(source, BaseModel) else repr(source)
        workdir, environ = Path.cwd(), dict(os.environ)
    now = context.clock()
    try:
        key = fingerprint(cache, definition, CacheInputs(context, workdir, environ, now))
    except (CacheInputError, OSError) as exc:
        return JobOutcome(status="failed", error=f"cache inputs: {exc}")
    hit = runs.cached_run(context.engine, ctx.spec.name, key, now - cache.ttl)
    if hit is not None:
        return JobOutcome(status="cached", output=hit.output or "", cache_key=key)
    outcome = runner(ctx)
    outcome.cache_key = key
    return outcome


# How a run came about, as its post's small print says it.
TRIGGER_WORDS = {
    "schedule": "scheduled run #{id}",
    "manual": "run #{id} by hand",
    "batch": "run #{id} in a batch",
    "startup": "run #{id} at start-up",
}


def job_reply(run: JobRun, baseline_ms: int | None = None) -> Reply:
    """A finished run as a chat post: what happened first (the cause of a failure, the
    output's tail), then one line of small print (how it ran, how long, its number)."""
    icon = {"ok": "✅", "cached": "♻️", "timeout": "⏱", "interrupted": "⏹"}.get(run.status, "❌")
    output = (run.output or "").strip()
    if len(output) > POST_OUTPUT_CHARS:
        output = "…" + output[-POST_OUTPUT_CHARS:]
    blocks: list[Block] = []
    if run.error:
        # "exit status 12: <its last line>" says the line once, in the output below.
        head, _, detail = run.error.partition(": ")
        blocks.append(Block(text=head if detail and detail.strip() in output else run.error))
    if output:
        blocks.append(Block(text=output, monospace=True))
    facts = [TRIGGER_WORDS.get(run.trigger, "run #{id}").format(id=run.id)]
    facts.append(duration(run.duration_ms))
    if run.cache_hit and baseline_ms is not None:
        facts.append(f"saved ~{duration(baseline_ms)}")
    if run.batch_id:
        facts.append(f"batch {run.batch_id}")
    return Reply(
        title=f"{icon} {run.job}: {run.status}",
        blocks=blocks,
        note=" · ".join(facts),
        status="ok" if run.status in ("ok", "cached") else "error",
    )


def run_batch(
    context: Context,
    batch_name: str,
    *,
    scheduled_at: datetime | None = None,
    cancel: threading.Event | None = None,
    post: bool = True,
    on_start: Callable[[int], None] | None = None,
    line: Line = "scheduled",
    answered_in: str | None = None,
) -> BatchResult:
    """Run every unpaused member of a batch under one batch id, `concurrency` at a
    time (each member also takes a worker slot, in `line`); one failing member does
    not stop the others; one combined post (but in `answered_in`, the chat whoever ran
    it is answered in)."""
    batch = find_batch(context.config, batch_name)
    if batch is None:
        raise KeyError(batch_name)
    paused = runs.paused_jobs(context.engine)
    members = batch_members(context.config, batch_name)
    skipped = [m.name for m in members if m.name in paused]
    members = [m for m in members if m.name not in paused]
    batch_id = f"{batch_name}:{uuid.uuid4().hex[:12]}"
    # Each member posts nothing itself: the batch posts once for all.
    member_options = RunOptions(
        scheduled_at=scheduled_at,
        batch_id=batch_id,
        cancel=cancel or context.run_control.cancel,
        post=False,
        on_start=on_start,
        line=line,
    )
    workers = ThreadPoolExecutor(batch.concurrency, thread_name_prefix=f"batch-{batch_name}")
    with workers as pool:
        futures = [
            pool.submit(run_job, context, member, "batch", **member_options) for member in members
        ]
        finished = [future.result() for future in futures]
    result = BatchResult(batch_name, batch_id, finished, skipped)
    targets = list(batch.post_to) or list(dict.fromkeys(t for m in members for t in m.post_to))
    targets = posted_to(targets, answered_in)
    if post and targets and (finished or skipped):
        until_written(
            lambda: enqueue(
                context.engine,
                kind="batch",
                targets=targets,
                reply=batch_reply(result),
                dedupe_key=f"batch:{batch_id}",
            ),
            f"batch {batch_id}'s post",
            kind="post",
        )
    return result


def batch_reply(result: BatchResult) -> Reply:
    ok = len(result.runs) - len(result.failed)
    blocks = []
    for run in result.runs:
        reply = job_reply(run)
        head = f"{reply.title} ({duration(run.duration_ms)})"
        body = "\n".join(b.text for b in reply.blocks)
        if len(body) > 800:
            body = "…" + body[-800:]
        blocks.append(Block(text=head, key=f"run:{run.id}"))
        if body:
            blocks.append(Block(text=body, monospace=True))
    if result.skipped:
        blocks.append(Block(text="Paused, not run: " + ", ".join(result.skipped)))
    return Reply(
        title=f"Batch {result.batch}: {ok}/{len(result.runs)} ok",
        blocks=blocks,
        note=f"batch {result.batch_id}",
        status="ok" if not result.failed else "error",
    )


def _literal_env(job: JobConfig) -> dict[str, str]:
    try:
        return command_environ(job)
    except ChildEnvError:
        return dict(job.env)  # the run itself fails with the clear message
