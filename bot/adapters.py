"""What a chat adapter (Slack, Telegram) offers the runtime, and which adapters
`opsdesk run` starts; with none configured posts go to the log.

A platform's package is imported only when it is enabled, so a process without Slack
or Telegram never loads (nor needs) their libraries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from storage.extras import require_extra

if TYPE_CHECKING:
    # The router (and the handlers behind it) is built only when a chat is enabled.
    from bot.work_queue import WorkQueue
    from handlers.router import Router
    from jobs.config.loading import Settings
    from jobs.outbox.delivery import Deliverer


class ChatAdapter(Protocol):
    """Started and stopped by `opsdesk run` on its one event loop."""

    platform: str  # "slack" | "telegram": the prefix of the targets it delivers to

    @property
    def deliverer(self) -> Deliverer:
        """Sends outbox posts whose target is `<platform>:<id>`."""
        ...

    async def start(self) -> None:
        """Connect and begin serving; returns once running (work continues in tasks).
        May be called again after it raised (bot/chat_links.py retries it)."""
        ...

    def refusal(self, exc: BaseException) -> str | None:
        """Why `start()` can never succeed, when `exc` is an answer that means so (the
        platform rejected the token, the port cannot be listened on): one line for
        the operator, without secrets. None when trying again may help (no network,
        a timeout, a 5xx)."""
        ...

    async def stop(self) -> None:
        """Stop serving; in-flight handlers finish."""
        ...

    def connected(self) -> bool:
        """For health: is the connection to the platform up right now?"""
        ...


def build_adapters(
    settings: Settings, router: Router, queue: WorkQueue | None = None
) -> list[ChatAdapter]:
    """The adapters enabled in the config, sharing one work queue for what commands
    do. Raises ConfigError when one is enabled but its token is missing, naming it,
    and MissingExtra when its extra is not installed."""
    adapters: list[ChatAdapter] = []
    if settings.config.slack.enabled:
        require_extra("slack", "slack.enabled = true")
        from bot.slack import build_slack_adapter

        slack = build_slack_adapter(settings, router, queue=queue)
        if slack is not None:
            adapters.append(slack)
    if settings.config.telegram.enabled:
        require_extra("telegram", "telegram.enabled = true")
        from bot.telegram import build_telegram_adapter

        telegram = build_telegram_adapter(settings, router, queue=queue)
        if telegram is not None:
            adapters.append(telegram)
    return adapters
