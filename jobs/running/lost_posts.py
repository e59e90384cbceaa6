"""Posts of finished runs that nobody queued: a process that died between writing a
run's end and queuing its post (kill -9, a lost container) would lose that post.

The leader looks, after each heartbeat, at scheduled runs that ended a while ago
(`GRACE`: a live process posts its own within it) and queues the post of each that
should have one and has none. The outbox dedupes by the run's key, so a post queued
meanwhile by its own process is never sent twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, cast, exists, literal
from sqlmodel import Session, col, select

from jobs.context import Context
from jobs.core.reply import Reply
from jobs.review.history import load_review
from jobs.review.post import review_post
from jobs.review.result import ReviewResult
from jobs.running.runner import job_reply
from jobs.runs.incidents import post_run
from jobs.runs.specs import find_job
from storage.models import JobRun, OutboxPost

# A run's own process queues its post right after its end; after this, nobody will.
GRACE = timedelta(minutes=1)
# How far back the first look reaches (a leader elected after an outage).
LOOK_BACK = timedelta(days=1)
# Runs ended by others than the run's own process, or posted another way: a batch
# member posts in its batch's post, a miss in the miss ledger's; an interrupted run
# was closed by the leader's sweep (its replica died; the fire runs again and posts)
# or at shutdown.
NOT_POSTED_BY_RUN = ("running", "abandoned", "interrupted", "missed", "skipped")


def unposted_runs(context: Context, since: datetime, until: datetime) -> list[JobRun]:
    """Scheduled runs (not in a batch) that ended in (since, until] with no post."""
    own_post = exists().where(
        col(OutboxPost.dedupe_key).like(
            literal("run:") + cast(col(JobRun.id), String) + literal("|%")
        )
    )
    query = (
        select(JobRun)
        .where(col(JobRun.trigger).in_(("schedule", "startup")))
        .where(col(JobRun.batch_id).is_(None))
        .where(col(JobRun.status).not_in(NOT_POSTED_BY_RUN))
        .where(col(JobRun.finished_at) > since, col(JobRun.finished_at) <= until)
        .where(~own_post)
        .order_by(col(JobRun.id))
    )
    with Session(context.engine) as session:
        return list(session.exec(query).all())


def post_lost_posts(context: Context, since: datetime, until: datetime) -> list[int]:
    """Queue the post of each run `unposted_runs` finds whose job posts somewhere;
    returns their run ids."""
    posted: list[int] = []
    for run in unposted_runs(context, since, until):
        spec = find_job(context.config, run.job)
        if spec is None or not spec.post_to or run.id is None:
            continue
        post_run(context.engine, run.job, run.id, list(spec.post_to), lost_reply(context, run))
        posted.append(run.id)
    return posted


def lost_reply(context: Context, run: JobRun) -> Reply:
    """The post the run's own process would have queued: a review's is the review as
    /review shows it (its findings and their buttons), read back from the review it
    stored; any other run's is made from its row."""
    stored = load_review(context.engine, run.review_id) if run.review_id is not None else None
    if stored is None:
        return job_reply(run)
    found = ReviewResult(stored, bool(run.cache_hit), run.duration_ms or 0, run.id)
    return review_post(context, found)
