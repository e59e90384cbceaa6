"""Which chat adapters `opsdesk run` starts; with none configured posts go to the log."""

from __future__ import annotations

from bot.adapter import ChatAdapter
from bot.settings import Settings
from handlers.router import Router


def build_adapters(settings: Settings, router: Router) -> list[ChatAdapter]:
    """The adapters enabled in the config. Raises ConfigError when one is enabled but
    its token is missing, naming the variable."""
    from bot.slack import build_slack_adapter
    from bot.telegram import build_telegram_adapter

    adapters: list[ChatAdapter] = []
    slack = build_slack_adapter(settings, router)
    if slack is not None:
        adapters.append(slack)
    telegram = build_telegram_adapter(settings, router)
    if telegram is not None:
        adapters.append(telegram)
    return adapters
