"""What every job kind shares: the job's description (JobSpec), what a run gets
(RunContext) and what it gives back (JobOutcome).

A kind is a blocking callable `(RunContext) -> JobOutcome`; the runtime calls it off
the event loop. Which kinds exist is listed once, in `jobs/running/kinds.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from jobs.config.schema import CacheConfig
from jobs.context import Context
from jobs.core.reply import Reply

# What a run can end as. `running` is only ever a row's state while it runs.
RunStatus = Literal["ok", "failed", "timeout", "cached", "missed", "interrupted", "abandoned"]
Trigger = Literal["schedule", "manual", "batch", "startup"]


@dataclass(frozen=True)
class JobSpec:
    """One job as the scheduler and the commands see it.

    `name` is what /run takes: a `[[jobs]]` entry's name, or `review:<repo>` for a
    repository's scheduled review. `schedule` is ignored while `batch` is set: the
    batch's schedule fires it."""

    name: str
    kind: str
    schedule: str | None = None
    batch: str | None = None
    post_to: tuple[str, ...] = ()
    cache: CacheConfig | None = None
    # The config entry it came from (JobConfig, RepoConfig, ...), for the kind to read.
    source: Any = None
    # The schedule's time zone when not the scheduler's (the digest's local time).
    timezone: str | None = None


@dataclass
class RunContext:
    """One run of one job: the process's context and what this run is."""

    context: Context
    spec: JobSpec
    trigger: Trigger
    run_id: int
    batch_id: str | None = None
    scheduled_at: datetime | None = None
    # Set when the process stops: a kind that can stop early should, and report
    # status "interrupted".
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class JobOutcome:
    status: RunStatus
    output: str = ""
    error: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    model: str | None = None
    model_latency_ms: int | None = None
    review_id: int | None = None
    # A kind that caches by itself (reviews) says under which key; generic caching
    # (`cache = {...}` on a job) fills it in.
    cache_key: str | None = None
    # What to post; None: a reply made from status and output.
    reply: Reply | None = None
    # Posts after it to the same targets, each once by its key (a review's branches).
    posts_after: tuple[tuple[str, Reply], ...] = ()


KindRunner = Callable[[RunContext], JobOutcome]
