"""Which chat adapters `opsdesk run` starts. The Slack and Telegram work adds one
line each to `build_adapters`; with none configured posts go to the log."""

from __future__ import annotations

from bot.adapter import ChatAdapter
from bot.settings import Settings
from handlers.router import Router


def build_adapters(settings: Settings, router: Router) -> list[ChatAdapter]:
    """The configured adapters (none yet: Slack and Telegram add theirs here)."""
    adapters: list[ChatAdapter] = []
    return adapters
