"""The `digest` and `health` job kinds: the scheduler's daily digest and its
periodic health check. Both post through the outbox themselves (deduplicated per
day or per change), so the run's own reply is not posted."""

from __future__ import annotations

from jobs.digest.reply import digest_reply
from jobs.digest.service import build_digest_with_chart, post_daily_digest, post_health_alerts
from jobs.job import JobOutcome, RunContext
from jobs.plural import plural


def run_digest_job(ctx: RunContext) -> JobOutcome:
    """Scheduled: the daily post, deduplicated against itself only (per local day).
    Run by hand: the digest answers the person who asked and posts nothing, so the
    day's scheduled post still goes out."""
    services = ctx.context
    if ctx.trigger != "schedule":
        found, chart = build_digest_with_chart(
            services.engine, services.config, "day", services.clock()
        )
        return JobOutcome(
            status="ok", output="digest sent to whoever ran it", reply=digest_reply(found, chart)
        )
    posts = post_daily_digest(services.engine, services.config, services.clock())
    return JobOutcome(status="ok", output=f"daily digest enqueued: {plural(len(posts), 'post')}")


def run_health_job(ctx: RunContext) -> JobOutcome:
    services = ctx.context
    posts = post_health_alerts(
        services.engine,
        services.config,
        services.clock(),
        data_dir=services.data_dir,
        llm_api_key=services.llm_api_key,
    )
    return JobOutcome(status="ok", output=f"health checked: {plural(len(posts), 'change')} posted")
