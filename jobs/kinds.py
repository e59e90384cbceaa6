"""Which job kinds exist: a kind is a blocking function (RunContext) -> JobOutcome.
Adding one is a line here (and, if its jobs do not come from the config entries
jobs/specs.py reads, a function in its SPEC_SOURCES)."""

from __future__ import annotations

from jobs.command import run_command_job
from jobs.digest.job import run_digest_job, run_health_job
from jobs.job import JobOutcome, KindRunner, RunContext


def run_review_job(ctx: RunContext) -> JobOutcome:
    """The review engine is imported when a review runs: a process without scheduled
    reviews never loads it (about 2 MB of the idle `opsdesk run`)."""
    from jobs.review.job import run_review_job as run

    return run(ctx)


KINDS: dict[str, KindRunner] = {
    "command": run_command_job,
    "review": run_review_job,
    "digest": run_digest_job,
    "health": run_health_job,
}
