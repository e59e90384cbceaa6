"""Refused callers cost nothing: no database row, and at most one refusal per chat
per hour. Kept in memory (a restart may refuse once more; nothing is written)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

REFUSE_EVERY_S = 3600.0
# Chats remembered at most; the least recently refused are forgotten first (a flood
# of strangers cannot grow memory without bound).
MAX_CHATS = 10_000


class RefusalLimiter:
    def __init__(
        self, every_s: float = REFUSE_EVERY_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        # A chat is remembered for `every_s` after its refusal: while it is, no other.
        self._last: TTLCache[str, bool] = TTLCache(maxsize=MAX_CHATS, ttl=every_s, timer=clock)
        self._lock = threading.Lock()

    def should_refuse(self, chat: str) -> bool:
        """True when `chat` has not been refused within the last hour (and records it)."""
        with self._lock:
            if chat in self._last:
                return False
            self._last[chat] = True
            return True
