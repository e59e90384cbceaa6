"""Button presses that redraw one Slack message take turns.

A block_actions payload carries the message as it was when the button was clicked:
two quick presses on one message would each redraw that older copy, and the second
chat.update would undo the first's change. Presses on one message (channel, ts) run
one at a time, each from the blocks the previous one set (remembered in this
process, a bounded number of messages)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

MAX_REMEMBERED = 500
MessageKey = tuple[str, str]  # (channel, message ts)
Blocks = list[dict[str, Any]]


class MessageEdits:
    def __init__(self, remembered: int = MAX_REMEMBERED) -> None:
        self._blocks: OrderedDict[MessageKey, Blocks] = OrderedDict()
        self._locks: dict[MessageKey, asyncio.Lock] = {}
        self._remembered = remembered

    @asynccontextmanager
    async def turn(self, key: MessageKey) -> AsyncIterator[None]:
        """Hold the message's turn while reading, redrawing and updating it."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield
        if key not in self._blocks and not lock.locked():
            self._locks.pop(key, None)

    def latest(self, key: MessageKey, as_pressed: Blocks) -> Blocks:
        """The message's blocks after this process's last update, else as pressed."""
        return self._blocks.get(key, as_pressed)

    def updated(self, key: MessageKey, blocks: Blocks) -> None:
        self._blocks[key] = blocks
        self._blocks.move_to_end(key)
        while len(self._blocks) > self._remembered:
            old, _ = self._blocks.popitem(last=False)
            lock = self._locks.get(old)
            if lock is not None and not lock.locked():
                del self._locks[old]
