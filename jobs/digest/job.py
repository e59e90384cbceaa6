"""The `digest` and `health` job kinds: the scheduler's daily digest and its
periodic health check. Both post through the outbox themselves (deduplicated per
day or per change), so the run's own reply is not posted."""

from __future__ import annotations

from jobs.digest.service import post_daily_digest, post_health_alerts
from jobs.kinds import JobContext, JobOutcome


def run_digest_job(ctx: JobContext) -> JobOutcome:
    services = ctx.services
    posts = post_daily_digest(services.engine, services.config, services.clock())
    return JobOutcome(status="ok", output=f"digest enqueued: {len(posts)} post(s)")


def run_health_job(ctx: JobContext) -> JobOutcome:
    services = ctx.services
    posts = post_health_alerts(
        services.engine,
        services.config,
        services.clock(),
        data_dir=services.data_dir,
        llm_api_key=services.llm_api_key,
    )
    return JobOutcome(status="ok", output=f"health checked: {len(posts)} change(s) posted")
