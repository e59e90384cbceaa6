"""What a sender learnt but could not write: a post's outcome (sent, or to retry later)
when the database failed right after the platform answered. Kept in memory and
written first at the sender's next round, instead of leaving the post claimed until
its claim goes stale — and then resending, as uncertain, a post the platform had
taken (Telegram, which cannot be read back, would show it twice)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from storage.durable import KEPT, is_unavailable
from storage.leadership import one_line

log = logging.getLogger(__name__)


class KeptOutcomes:
    def __init__(self) -> None:
        self._kept: list[Callable[[], None]] = []
        self._guard = threading.Lock()

    def write_or_keep(self, write: Callable[[], None], post_id: int) -> None:
        try:
            write()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            with self._guard:
                self._kept.append(write)
            KEPT.add("post outcome")
            log.warning(
                "post %s's outcome is kept until the database returns: %s", post_id, one_line(exc)
            )

    def flush(self) -> None:
        """Write what was kept, in order; raises (keeping the rest) while the database
        is still unavailable."""
        while True:
            with self._guard:
                if not self._kept:
                    return
                write = self._kept[0]
            write()
            with self._guard:
                self._kept.pop(0)
            KEPT.remove("post outcome")
