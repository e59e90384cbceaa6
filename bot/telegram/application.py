"""The python-telegram-bot Application opsdesk runs: on a configurable Bot API server,
with Telegram's flood limits kept by AIORateLimiter."""

from __future__ import annotations

import logging

from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

DEFAULT_API_BASE_URL = "https://api.telegram.org"


class ExpectedFloodControl(logging.Filter):
    """AIORateLimiter logs a 429 it stops retrying as an ERROR with a traceback, yet
    the caller handles it (the outbox waits Retry-After and sends again): a warning,
    one line, is what it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Rate limit hit after maximum"):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


_flood_filter = ExpectedFloodControl()


def build_application(
    token: str,
    api_base_url: str = DEFAULT_API_BASE_URL,
    *,
    max_retries: int = 2,
) -> Application:
    """An Application on `api_base_url` (a self-hosted Bot API server works too); a
    RetryAfter is waited out in place up to `max_retries` times and then reaches the
    caller (the outbox retries it)."""
    api = api_base_url.rstrip("/")
    limiter_log = logging.getLogger("telegram.ext.AIORateLimiter")
    if _flood_filter not in limiter_log.filters:
        limiter_log.addFilter(_flood_filter)
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(AIORateLimiter(max_retries=max_retries))
        .concurrent_updates(16)  # a slow /review must not hold up a button press
        .build()
    )
