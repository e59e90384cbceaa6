"""One review per repository at a time, across processes.

PostgreSQL: a session-level advisory lock on a dedicated connection, so replicas on
several machines exclude each other. SQLite is single-machine anyway: an exclusive
`flock` on a file in the data directory (flock locks belong to the open file, so two
threads of one process exclude each other too).
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from jobs.context import Context
from storage.db import is_postgres


def lock_name(repo: str) -> str:
    return f"opsdesk-review:{repo}"


@contextmanager
def repo_lock(context: Context, repo: str) -> Iterator[None]:
    """Hold the review lock of `repo` (blocking until it is free)."""
    if is_postgres(context.engine):
        with _advisory_lock(context.engine, lock_name(repo)):
            yield
        return
    with _file_lock(context.data_dir / "locks" / f"review-{_safe(repo)}.lock"):
        yield


@contextmanager
def _advisory_lock(engine: Engine, name: str) -> Iterator[None]:
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(hashtext(:name))"), {"name": name})
        connection.commit()  # the lock is the session's; no transaction stays open
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), {"name": name})
            connection.commit()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _safe(repo: str) -> str:
    """A file name for any repo name (local paths contain slashes)."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in repo)[:60]
    return f"{stem}-{hashlib.sha256(repo.encode()).hexdigest()[:10]}"
