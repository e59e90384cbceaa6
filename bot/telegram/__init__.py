"""The Telegram frontend (python-telegram-bot v22). Nothing outside this package
imports telegram."""

from __future__ import annotations

import os
from collections.abc import Mapping

from bot.telegram.adapter import TelegramAdapter, TelegramStartError, webhook_secret_problem
from bot.work_queue import WorkQueue
from handlers.router import Router
from jobs.config.loading import ConfigError, Settings

__all__ = ["TelegramAdapter", "TelegramStartError", "build_telegram_adapter"]


def build_telegram_adapter(
    settings: Settings,
    router: Router,
    environ: Mapping[str, str] | None = None,
    queue: WorkQueue | None = None,
) -> TelegramAdapter | None:
    """The adapter when Telegram is enabled (None otherwise); ConfigError when it is
    enabled but TELEGRAM_BOT_TOKEN is not set. TELEGRAM_API_BASE_URL (a self-hosted
    Bot API server) overrides telegram.api_base_url."""
    config = settings.config.telegram
    token = settings.secrets.telegram_bot_token
    if not config.enabled:
        return None
    if token is None:
        raise ConfigError(
            settings.source, ["telegram.enabled is true but TELEGRAM_BOT_TOKEN is not set"]
        )
    env = os.environ if environ is None else environ
    secret = settings.secrets.telegram_webhook_secret
    problem = webhook_secret_problem(config.mode, secret.get_secret_value() if secret else None)
    if problem is not None:
        raise ConfigError("environment", [problem])
    return TelegramAdapter(
        router,
        router.context.engine,
        token.get_secret_value(),
        config,
        api_base_url=env.get("TELEGRAM_API_BASE_URL", "").strip() or config.api_base_url,
        webhook_secret=secret.get_secret_value() if secret else None,
        queue=queue,
    )
