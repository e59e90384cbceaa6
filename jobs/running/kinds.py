"""Which job kinds exist: a kind is a blocking function (RunContext) -> JobOutcome.
Adding one is a line here (and, if its jobs do not come from the config entries
jobs/runs/specs.py reads, a function in its SPEC_SOURCES)."""

from __future__ import annotations

from jobs.running.command import run_command_job
from jobs.runs.job import JobOutcome, KindRunner, RunContext

# The review engine, the digest and health are imported when one of their jobs runs:
# an idle `opsdesk run` does not carry them (about 2 MB for reviews, 1.5 MB for the
# digest and health modules).


def run_review_job(ctx: RunContext) -> JobOutcome:
    from jobs.review.job import run_review_job as run

    return run(ctx)


def run_digest_job(ctx: RunContext) -> JobOutcome:
    from jobs.digest.job import run_digest_job as run

    return run(ctx)


def run_health_job(ctx: RunContext) -> JobOutcome:
    from jobs.digest.job import run_health_job as run

    return run(ctx)


KINDS: dict[str, KindRunner] = {
    "command": run_command_job,
    "review": run_review_job,
    "digest": run_digest_job,
    "health": run_health_job,
}
