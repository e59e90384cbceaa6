"""Button presses that redraw one chat message take turns.

A press carries the message as it was when the button was clicked: two quick presses
on one message would each redraw that older copy, and the second update would undo
the first's change. Presses on one message run one at a time, each from the content
the previous one set, remembered in this process for the most recently pressed
messages (a bounded number: older ones are redrawn from the copy the press carries).
Used alike by the Slack adapter (blocks) and the Telegram adapter (HTML and keyboard).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import LRUCache

Key = TypeVar("Key", bound=Hashable)
Content = TypeVar("Content")
MAX_REMEMBERED = 500


@dataclass
class _Turn:
    lock: asyncio.Lock
    users: int = 0  # presses holding or waiting for this message's turn


class MessageTurns(Generic[Key, Content]):
    def __init__(self, remembered: int = MAX_REMEMBERED) -> None:
        self._latest: LRUCache[Key, Content] = LRUCache(maxsize=remembered)
        # Only messages being pressed right now: a turn is dropped once nobody holds it.
        self._turns: dict[Key, _Turn] = {}

    @asynccontextmanager
    async def turn(self, key: Key) -> AsyncIterator[None]:
        """Hold the message's turn while reading, redrawing and updating it."""
        turn = self._turns.setdefault(key, _Turn(asyncio.Lock()))
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if turn.users == 0:
                del self._turns[key]

    def latest(self, key: Key) -> Content | None:
        """The message's content after this process's last update of it, if remembered."""
        return self._latest.get(key)

    def updated(self, key: Key, content: Content) -> None:
        self._latest[key] = content
