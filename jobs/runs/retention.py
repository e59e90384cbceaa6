"""Retention: finished runs and delivered posts older than `[storage] keep_runs` are
deleted, in small batches (a long delete would hold writers up). Runs still running
and posts still waiting or failed are never deleted: those are work, or a loss
someone has to see."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from storage.models import JobRun, OutboxPost

log = logging.getLogger(__name__)

BATCH = 1000
DELIVERED = ("sent", "dropped")


@dataclass(frozen=True)
class Pruned:
    runs: int
    posts: int


def prune(engine: Engine, keep: timedelta, now: datetime) -> Pruned:
    """Delete what is older than `now - keep`; how many of each."""
    cutoff = now - keep
    old_runs = select(col(JobRun.id)).where(
        col(JobRun.status) != "running", col(JobRun.started_at) < cutoff
    )
    old_posts = select(col(OutboxPost.id)).where(
        col(OutboxPost.status).in_(DELIVERED), col(OutboxPost.created_at) < cutoff
    )
    return Pruned(
        runs=_in_batches(engine, JobRun, old_runs),
        posts=_in_batches(engine, OutboxPost, old_posts),
    )


def _in_batches(
    engine: Engine, table: type[JobRun] | type[OutboxPost], ids: Select[int | None]
) -> int:
    deleted = 0
    while True:
        with engine.begin() as connection:
            batch = list(connection.execute(ids.limit(BATCH)).scalars())
            if not batch:
                return deleted
            connection.execute(delete(table).where(col(table.id).in_(batch)))
        deleted += len(batch)
