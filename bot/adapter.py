"""What a chat adapter (Slack, Telegram) offers the runtime."""

from __future__ import annotations

from typing import Protocol

from jobs.outbox import Deliverer


class ChatAdapter(Protocol):
    """Started and stopped by `opsdesk run` on its one event loop."""

    platform: str  # "slack" | "telegram": the prefix of the targets it delivers to

    @property
    def deliverer(self) -> Deliverer:
        """Sends outbox posts whose target is `<platform>:<id>`."""
        ...

    async def start(self) -> None:
        """Connect and begin serving; returns once running (work continues in tasks)."""
        ...

    async def stop(self) -> None:
        """Stop serving; in-flight handlers finish."""
        ...

    def connected(self) -> bool:
        """For health: is the connection to the platform up right now?"""
        ...
