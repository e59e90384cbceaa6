"""Writes that must not be lost to a database outage: a run's end and its post. The
write is retried, with a bounded backoff, until the database takes it; meanwhile it is
kept in memory (the closure), so a run is never left `running` by an outage and its
post is written when the database returns."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from storage.leadership import one_line

log = logging.getLogger(__name__)
T = TypeVar("T")

FIRST_WAIT_S = 1.0
MAX_WAIT_S = 30.0
# The database's own words for "not now": no connection, a full disk, an I/O error.
UNAVAILABLE = (OperationalError, InterfaceError)


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, UNAVAILABLE) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def until_written(
    write: Callable[[], T],
    what: str,
    *,
    kind: str = "write",
    sleep: Callable[[float], None] = time.sleep,
    first_wait: float = FIRST_WAIT_S,
) -> T:
    """`write()`, again after each database-unavailable error, until it goes through.
    Other errors are raised at once. Meanwhile it is counted in KEPT under `kind`
    ("run end", "post"), for health to say what the process holds."""
    wait, attempt = first_wait, 0
    try:
        while True:
            try:
                return write()
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                if attempt == 0:
                    KEPT.add(kind)
                attempt += 1
                if attempt & (attempt - 1) == 0:  # attempts 1, 2, 4, 8, …
                    log.warning(
                        "could not write %s (attempt %d: %s); kept, trying again in %.0fs",
                        what,
                        attempt,
                        one_line(exc),
                        wait,
                    )
            sleep(wait)
            wait = min(wait * 2, MAX_WAIT_S)
    finally:
        if attempt:
            KEPT.remove(kind)


class KeptWrites:
    """How many writes of each kind this process keeps in memory for the database:
    what /health can say during an outage without asking it."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._guard = threading.Lock()

    def add(self, kind: str) -> None:
        with self._guard:
            self._counts[kind] += 1

    def remove(self, kind: str) -> None:
        with self._guard:
            self._counts[kind] -= 1
            if self._counts[kind] <= 0:
                del self._counts[kind]

    def counts(self) -> dict[str, int]:
        with self._guard:
            return dict(self._counts)


KEPT = KeptWrites()


# Per engine: when this process first found its database unavailable, until it
# answers again. What /health and /readyz can say during an outage without asking it.
_DOWN_SINCE: WeakKeyDictionary[Engine, datetime] = WeakKeyDictionary()


def note_unavailable(engine: Engine, now: datetime) -> None:
    _DOWN_SINCE.setdefault(engine, now)


def note_available(engine: Engine) -> None:
    _DOWN_SINCE.pop(engine, None)


def unavailable_since(engine: Engine) -> datetime | None:
    return _DOWN_SINCE.get(engine)
