"""Which process leads: a PostgreSQL session advisory lock, held on a connection of its
own and re-proved on that connection whenever asked.

A session lock lives as long as its backend: a server restart, a failover, a network
cut or `pg_terminate_backend` frees it while the process that took it knows nothing.
So holding it is never assumed: `held()` asks the server, on the very connection that
took the lock, whether that backend still holds it; any error there means it does not
(the connection is dropped, and the next `acquire()` starts afresh).

On SQLite one process is assumed: the lock is always ours."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from storage.db import is_postgres

log = logging.getLogger(__name__)

# "opsd" as an int, paired with the schema's hash: one leader per set of opsdesk
# tables (two deployments in two schemas of one database do not wait for each other).
LOCK_KEY = 0x6F707364
_LOCK = "(:key, hashtext(current_schema()))"
# A two-int4 advisory lock shows in pg_locks as classid = key 1, objid = key 2 (as an
# unsigned oid), objsubid = 2.
_STILL_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND objsubid = 2 AND classid::bigint = :key"
    " AND objid::bigint = (hashtext(current_schema())::bigint & 4294967295)"
)


class LeaderLock:
    """One process's claim to lead. Its calls take turns (a heartbeat and a fire may
    ask at once, from two threads, on the one connection)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._turn = threading.RLock()

    def acquire(self) -> bool:
        """Take the lock if it is free; True when it is ours. Database errors raise."""
        if not is_postgres(self.engine):
            return True
        with self._turn:
            if self._connection is not None:
                return self._held()
            connection = self.engine.connect()
            try:
                got = bool(
                    connection.execute(
                        text(f"SELECT pg_try_advisory_lock{_LOCK}"), {"key": LOCK_KEY}
                    ).scalar()
                )
                connection.commit()
            except BaseException:
                _drop(connection)
                raise
            if got:
                self._connection = connection  # held as long as this backend lives
            else:
                connection.close()
            return got

    def held(self) -> bool:
        """Ask the server whether the lock's own backend still holds it. False (and
        the connection dropped) on any error: a lock we cannot prove is not ours."""
        if not is_postgres(self.engine):
            return True
        with self._turn:
            return self._held()

    def _held(self) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            count = connection.execute(_STILL_HELD, {"key": LOCK_KEY}).scalar()
            connection.commit()
        except Exception as exc:
            log.warning("the scheduler lock's connection failed: %s", one_line(exc))
            count = 0
        if not count:
            self._connection = None
            _drop(connection)
            return False
        return True

    def release(self) -> None:
        """Unlock before closing: close() returns the connection to the pool, and a
        session-level advisory lock would stay with it, held by whoever gets it next."""
        with self._turn:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            try:
                connection.execute(text(f"SELECT pg_advisory_unlock{_LOCK}"), {"key": LOCK_KEY})
                connection.commit()
            except Exception as exc:
                log.warning("could not release the scheduler lock (%s); dropped it", one_line(exc))
                _drop(connection)
                return
            connection.close()

    def drop(self) -> None:
        """Forget the lock without asking the server: its connection is closed for
        good (never back into the pool), which frees the lock if it was still held."""
        with self._turn:
            connection, self._connection = self._connection, None
            if connection is not None:
                _drop(connection)


def _drop(connection: Connection) -> None:
    try:
        connection.invalidate()
        connection.close()
    except Exception:
        log.debug("closing a failed connection failed too", exc_info=True)


def one_line(exc: BaseException) -> str:
    """The driver's message's first line, without SQL."""
    original = getattr(exc, "orig", None) or exc
    first = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return first[:200]
