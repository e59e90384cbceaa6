"""The `review` job kind: a configured repository's scheduled review.

The runner records the run row, so the review is made with record_run=False and its
figures handed back in the outcome; the post is the same reply /review shows."""

from __future__ import annotations

from jobs.feedback import mark_shown
from jobs.job import JobOutcome, RunContext
from jobs.review.engine import ReviewFailed, review_job
from jobs.review.view import finding_ids_in, review_reply


def run_review_job(ctx: RunContext) -> JobOutcome:
    services = ctx.context
    repo = ctx.spec.name.split(":", 1)[1]
    try:
        result = review_job(
            services.engine, services.config, services.data_dir, repo,
            trigger=ctx.trigger, batch_id=ctx.batch_id, llm_api_key=services.llm_api_key,
            clock=services.clock, runner_id=services.runner_id, record_run=False,
        )  # fmt: skip
    except ReviewFailed as exc:
        return JobOutcome(
            status="failed", error=exc.reason,
            tokens_in=exc.tokens_in or None, tokens_out=exc.tokens_out or None,
        )  # fmt: skip
    columns = result.run_columns()
    reply = review_reply(result, services.config)
    # The post's buttons are pressable in the chats it goes to, and only there.
    for target in ctx.spec.post_to:
        mark_shown(services.engine, target, finding_ids_in(reply))
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
