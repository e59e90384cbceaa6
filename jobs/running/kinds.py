"""Which job kinds exist: a kind is a blocking function (RunContext) -> JobOutcome.
Adding one is a line here (and, if its jobs do not come from the config entries
jobs/runs/specs.py reads, a function in its SPEC_SOURCES)."""

from __future__ import annotations

from jobs.running.command import run_command_job
from jobs.runs.job import JobOutcome, KindRunner, RunContext

# The review engine, the digest and health are imported when one of their jobs runs:
# an idle `opsdesk run` does not carry them (measured in docs/performance.md, "Where
# the memory goes"). Each kind below only defers that import; the job is the module's.


def review_kind(ctx: RunContext) -> JobOutcome:
    from jobs.review.job import run_review_job

    return run_review_job(ctx)


def digest_kind(ctx: RunContext) -> JobOutcome:
    from jobs.digest.job import run_digest_job

    return run_digest_job(ctx)


def health_kind(ctx: RunContext) -> JobOutcome:
    from jobs.digest.job import run_health_job

    return run_health_job(ctx)


KINDS: dict[str, KindRunner] = {
    "command": run_command_job,
    "review": review_kind,
    "digest": digest_kind,
    "health": health_kind,
}
