"""A linter's findings for one file, kept between reviews.

    cache = ResultCache(scratch / RESULTS_FILE)
    found = cache.get_many(keys)            # key → findings, for the keys it holds
    cache.put_many({key: findings, ...})

A key names everything a file's findings may depend on (jobs.review.lint.per_file:
the file's path and content, the linter, its version and its configuration); what is
stored is exactly what the linter reported for that file. The cache lives beside the
repository's scratch checkout in opsdesk's data directory (and goes with it), holds at
most `max_entries` files' results, dropping the least recently used first, and is
only ever a saving: an unreadable cache file is started afresh.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from jobs.review.finding import Finding

log = logging.getLogger(__name__)

RESULTS_FILE = "lint-results.sqlite3"
MAX_ENTRIES = 50_000
_BATCH = 500  # keys a query names at once (SQLite's default limit is 32,766)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS results "
    "(key TEXT PRIMARY KEY, findings TEXT NOT NULL, used INTEGER NOT NULL)"
)


class ResultCache:
    def __init__(self, path: Path, max_entries: int = MAX_ENTRIES) -> None:
        self.path = path
        self.max_entries = max_entries

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        connection = self._open()
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def _open(self) -> sqlite3.Connection:
        """The cache's database; one that is not a database is replaced by an empty one."""
        for attempt in range(2):
            connection = sqlite3.connect(self.path, timeout=30)
            try:
                connection.execute(_SCHEMA)
                return connection
            except sqlite3.DatabaseError as exc:
                connection.close()
                if attempt or isinstance(exc, sqlite3.OperationalError):
                    raise
                log.warning("lint results cache %s unreadable; starting afresh", self.path)
                self.path.unlink(missing_ok=True)
        raise AssertionError("unreachable: the second attempt returns or raises")

    def get_many(self, keys: Iterable[str]) -> dict[str, list[Finding]]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, list[Finding]] = {}
        with self._connection() as db:
            for start in range(0, len(wanted), _BATCH):
                batch = wanted[start : start + _BATCH]
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    f"SELECT key, findings FROM results WHERE key IN ({marks})", batch
                ).fetchall()
                for key, text in rows:
                    findings = _loaded(text)
                    if findings is not None:
                        found[key] = findings
                now = time.time_ns()
                db.executemany(
                    "UPDATE results SET used = ? WHERE key = ?", ((now, k) for k in found)
                )
        return found

    def put_many(self, entries: dict[str, list[Finding]]) -> None:
        if not entries:
            return
        now = time.time_ns()
        rows = [
            (key, json.dumps([f.model_dump() for f in found]), now)
            for key, found in entries.items()
        ]
        with self._connection() as db:
            db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", rows)
            (count,) = db.execute("SELECT count(*) FROM results").fetchone()
            if count > self.max_entries:
                db.execute(
                    "DELETE FROM results WHERE key IN "
                    "(SELECT key FROM results ORDER BY used LIMIT ?)",
                    (count - self.max_entries,),
                )


def _loaded(text: str) -> list[Finding] | None:
    try:
        return [Finding.model_validate(item) for item in json.loads(text)]
    except (ValueError, TypeError, ValidationError):
        return None  # not what this version stores: linted again
