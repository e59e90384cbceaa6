"""The Slack frontend. The only package that imports slack_bolt or slack_sdk."""

from __future__ import annotations

import os
from collections.abc import Mapping

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.adapter import SlackAdapter
from bot.slack.app import build_app
from bot.slack.deliver import SlackDeliverer
from bot.slack.gate import RequestGate
from bot.work_queue import WorkQueue
from handlers.router import Router
from jobs.config.loading import ConfigError, Settings

DEFAULT_API_URL = AsyncWebClient.BASE_URL


def web_client(token: str, base_url: str, *, retry_rate_limits: bool) -> AsyncWebClient:
    """A Web API client; `retry_rate_limits` waits out one 429 inside the call (for
    interactive answers — outbox posts are retried by the outbox instead)."""
    client = AsyncWebClient(token=token, base_url=base_url)
    if retry_rate_limits:
        client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    return client


def build_slack_adapter(
    settings: Settings,
    router: Router,
    environ: Mapping[str, str] | None = None,
    queue: WorkQueue | None = None,
) -> SlackAdapter | None:
    """The Slack adapter when `slack.enabled`; ConfigError when a token it needs is missing.
    SLACK_API_URL (environment) changes the Web API base URL, e.g. for GovSlack."""
    slack = settings.config.slack
    if not slack.enabled:
        return None
    env = os.environ if environ is None else environ
    secrets = settings.secrets
    problems = []
    if secrets.slack_bot_token is None:
        problems.append("SLACK_BOT_TOKEN is not set (the xoxb- Bot User OAuth Token)")
    if slack.mode == "socket" and secrets.slack_app_token is None:
        problems.append("slack.mode = 'socket' needs SLACK_APP_TOKEN (an xapp- app-level token)")
    if slack.mode == "http" and secrets.slack_signing_secret is None:
        problems.append("slack.mode = 'http' needs SLACK_SIGNING_SECRET (Basic Information)")
    if problems:
        raise ConfigError("environment", problems)
    assert secrets.slack_bot_token is not None
    base_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    token = secrets.slack_bot_token.get_secret_value()
    signing = secrets.slack_signing_secret
    app = build_app(
        router,
        web_client(token, base_url, retry_rate_limits=True),
        signing_secret=signing.get_secret_value() if signing else "",
        main_command=slack.command,
        queue=queue,
    )
    app_token = secrets.slack_app_token
    return SlackAdapter(
        app,
        SlackDeliverer(web_client(token, base_url, retry_rate_limits=False)),
        mode=slack.mode,
        app_token=app_token.get_secret_value() if app_token else None,
        http_host=slack.http_host,
        http_port=slack.http_port,
        request_timeout=slack.http_request_timeout,
        max_connections=slack.http_max_connections,
        gate=RequestGate(
            signing.get_secret_value() if signing and slack.mode == "http" else None,
            team_id=slack.team_id,
            app_id=slack.app_id,
        ),
    )


__all__ = ["SlackAdapter", "SlackDeliverer", "build_app", "build_slack_adapter"]
