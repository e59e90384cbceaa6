"""Engine and sessions. SQLite (WAL) by default; PostgreSQL through a URL."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError
from sqlmodel import Session, create_engine

from storage.extras import require_extra


class DatabaseOpenError(Exception):
    """The database cannot be opened; the message is one line naming the cause."""


def make_engine(url: str) -> Engine:
    """An engine for `url`. SQLite gets WAL, a busy timeout and foreign keys; the
    parent directory of a SQLite file is created."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseOpenError(
            "not a database URL (use sqlite:///PATH or postgresql://USER@HOST/DATABASE)"
        ) from None
    _refuse_unsupported(parsed)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            parent = Path(database).expanduser().parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise DatabaseOpenError(
                    f"cannot create the directory {parent}: a file is in the way"
                ) from None
            except OSError as exc:
                raise DatabaseOpenError(
                    f"cannot create the directory {parent}: {exc.strerror}"
                ) from None
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        require_extra("postgres", "a PostgreSQL database")
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # psycopg 3 is what we ship; plain postgresql:// would look for psycopg2.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    try:
        return create_engine(url, pool_pre_ping=True)
    except ImportError:
        raise DatabaseOpenError(
            f"the driver for {parsed.drivername!r} is not installed (use sqlite or postgresql)"
        ) from None
    except NoSuchModuleError:
        raise DatabaseOpenError(
            f"unknown database driver {parsed.drivername!r} (use sqlite or postgresql)"
        ) from None


# What opsdesk ships drivers for: the standard library's sqlite3 and psycopg 3.
SUPPORTED_DRIVERS = {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"}


def _refuse_unsupported(parsed: URL) -> None:
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise DatabaseOpenError(
            f"unknown database driver {parsed.drivername!r} "
            "(use sqlite:///PATH or postgresql://USER@HOST/DATABASE)"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise DatabaseOpenError("a SQLite URL needs a file path (sqlite:///PATH)")


# What a driver's complaint about a connection means, in words that name no host, port,
# user or database (the driver's own text goes to the log, never to a reply).
_CONNECTION_TROUBLES = tuple(
    (re.compile(pattern, re.IGNORECASE), meaning)
    for pattern, meaning in (
        (r"connection refused", "connection refused (is the server running, on that port?)"),
        (r"timeout expired|timed out", "no answer in time"),
        (
            r"authentication failed|no pg_hba\.conf entry|password",
            "the server refused the login (user, password or pg_hba.conf)",
        ),
        (r"role .* does not exist", "the user does not exist"),
        (r"database .* does not exist", "the database does not exist"),
        (
            r"could not translate host name|name or service not known|nodename nor servname",
            "the host name does not resolve",
        ),
        (r"too many connections|connection slots", "the server has no free connection"),
        (
            r"server closed the connection|terminating connection|connection is closed",
            "the server closed the connection",
        ),
        (r"\bssl\b", "the TLS handshake failed"),
    )
)


def connection_trouble(driver_text: str) -> str:
    """The kind of a connection failure, from the driver's text; 'connection failed'
    when it is none opsdesk knows."""
    for pattern, meaning in _CONNECTION_TROUBLES:
        if pattern.search(driver_text):
            return meaning
    return "connection failed"


def open_failure(exc: BaseException) -> str | None:
    """One line saying why opening the database failed, or None when `exc` is not
    an open failure. Never the driver's SQL; secrets are scrubbed by the caller."""
    if isinstance(exc, DatabaseOpenError):
        return str(exc)
    original = getattr(exc, "orig", None) or exc
    if isinstance(original, sqlite3.DatabaseError):
        text = str(original)
        if "not a database" in text:
            return "the file is not a SQLite database"
        if "unable to open" in text:
            return "cannot open the SQLite file (check the path and its permissions)"
        return f"SQLite refused it: {text.splitlines()[0][:200]}"
    if isinstance(exc, OperationalError | InterfaceError):
        return f"cannot connect to the database: {connection_trouble(str(original))}"
    if isinstance(exc, NoSuchModuleError):
        return "unknown database driver (use sqlite or postgresql)"
    return None


# Each pooled connection keeps its own page cache (SQLite's default: 2 MB), and with
# a year of runs every one of them fills; the OS's page cache holds the file anyway
# under WAL. A smaller cache per connection keeps a large history's idle process
# smaller with the day digest no slower (docs/performance.md, bench/digest.py).
SQLITE_CACHE_KIB = 512


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns, so a power loss or an I/O error
    # never takes back a run or a post opsdesk already reported (WAL with NORMAL may
    # lose the last commits). Measured: about 2.5 ms more per recorded run, 28 ms
    # against 25 (bench/sqlite_durability.py).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def describe(engine: Engine) -> str:
    """The URL without its password, safe for logs and replies."""
    return engine.url.render_as_string(hide_password=True)
