"""The `review` job kind: a configured repository's scheduled review.

The runner records the run row from the figures handed back in the outcome; the post
is the same reply /review shows. Its buttons count in a chat once the outbox has
delivered it there (`record_shown`)."""

from __future__ import annotations

from jobs.review.engine import run_review
from jobs.review.post import review_post
from jobs.review.targets import ReviewFailed
from jobs.runs.job import JobOutcome, RunContext


def run_review_job(ctx: RunContext) -> JobOutcome:
    context = ctx.context
    repo = ctx.spec.name.split(":", 1)[1]
    try:
        result = run_review(context, repo)
    except ReviewFailed as exc:
        spent_in, spent_out = exc.tokens_in or None, exc.tokens_out or None
        return JobOutcome("failed", error=exc.reason, tokens_in=spent_in, tokens_out=spent_out)
    columns = result.run_columns()
    reply = review_post(context, result)
    return JobOutcome(
        status=columns["status"],
        output=reply.title,
        tokens_in=columns["tokens_in"],
        tokens_out=columns["tokens_out"],
        model=columns["model"],
        model_latency_ms=columns["model_latency_ms"],
        review_id=columns["review_id"],
        reply=reply,
    )
