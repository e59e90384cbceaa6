"""Refused callers cost nothing: no database row, and at most one refusal per chat
per hour. Kept in memory (a restart may refuse once more; nothing is written)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

REFUSE_EVERY_S = 3600.0
# Chats remembered at most; the oldest are forgotten first (a flood of strangers
# cannot grow memory without bound).
MAX_CHATS = 10_000


class RefusalLimiter:
    def __init__(
        self, every_s: float = REFUSE_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every_s = every_s
        self.clock = clock
        self._last: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def should_refuse(self, chat: str) -> bool:
        """True when `chat` has not been refused within the last hour (and records it)."""
        now = self.clock()
        with self._lock:
            last = self._last.get(chat)
            if last is not None and now - last < self.every_s:
                return False
            self._last[chat] = now
            self._last.move_to_end(chat)
            while len(self._last) > MAX_CHATS:
                self._last.popitem(last=False)
            return True
