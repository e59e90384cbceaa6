"""Which chat adapters `opsdesk run` starts; with none configured posts go to the log."""

from __future__ import annotations

from bot.adapter import ChatAdapter
from bot.settings import Settings
from bot.work_queue import WorkQueue
from handlers.router import Router


def build_adapters(
    settings: Settings, router: Router, queue: WorkQueue | None = None
) -> list[ChatAdapter]:
    """The adapters enabled in the config, sharing one work queue for what commands
    do. Raises ConfigError when one is enabled but its token is missing, naming it."""
    from bot.slack import build_slack_adapter
    from bot.telegram import build_telegram_adapter

    adapters: list[ChatAdapter] = []
    slack = build_slack_adapter(settings, router, queue=queue)
    if slack is not None:
        adapters.append(slack)
    telegram = build_telegram_adapter(settings, router, queue=queue)
    if telegram is not None:
        adapters.append(telegram)
    return adapters
