"""Schema versions through Alembic migrations (never `create_all` on a live DB).

`upgrade()` brings any database to the current schema and is a no-op the second
time; `check()` refuses a database whose schema is newer than this code knows.

Migrations are all-or-nothing and run once:
- the whole upgrade (or downgrade) runs in ONE transaction, so a process killed at
  any statement leaves the database as it was. SQLite's driver would commit each
  `CREATE TABLE` on its own, so migrations get a connection whose transaction we
  open ourselves (`BEGIN EXCLUSIVE`);
- that transaction holds a lock (SQLite: the exclusive write lock; PostgreSQL: a
  transaction-level advisory lock) taken BEFORE the revision is read, so processes
  starting together wait for the first one and then find nothing to do.
- a database with opsdesk tables but no revision (a first start of an older
  version killed half-way, or `create_all`) is repaired when those tables are all
  empty and refused otherwise with the command that repairs it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import NullPool, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS = Path(__file__).parent / "migrations"
# One key for "opsdesk is migrating this database" (pg_advisory_xact_lock's bigint).
MIGRATION_LOCK_KEY = 0x6F70_7364_6573_6B00 & 0x7FFF_FFFF_FFFF_FFFF
_SQLITE_LOCK_WAIT_S = 120


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this version of opsdesk."""


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # revision in the database; None for an empty database
    head: str  # newest revision this code knows

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def _script() -> ScriptDirectory:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def _head() -> str:
    head = _script().get_current_head()
    assert head is not None, "no migrations shipped"
    return head


def status(engine: Engine) -> SchemaStatus:
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return SchemaStatus(current=current, head=_head())


def check(engine: Engine) -> SchemaStatus:
    """Raise SchemaError when the database was written by a newer opsdesk."""
    found = status(engine)
    _refuse_unknown(found)
    return found


def upgrade(engine: Engine) -> tuple[SchemaStatus, SchemaStatus]:
    """Bring the database to the newest schema; returns (before, after)."""
    before = check(engine)
    if before.is_current:
        return before, before
    with migration_connection(engine) as connection:
        # Read again under the lock: another process may have migrated meanwhile.
        current = MigrationContext.configure(connection).get_current_revision()
        _refuse_unknown(SchemaStatus(current, before.head))
        if current is None:
            _repair_half_made(connection)
        command.upgrade(_alembic_config(connection), "head")
    return before, status(engine)


def downgrade(engine: Engine, revision: str) -> tuple[SchemaStatus, SchemaStatus]:
    """Take the schema back to `revision` ('base' removes every table)."""
    before = check(engine)
    if revision not in _known_revisions() | {"base"} and not revision.startswith("-"):
        raise SchemaError(
            f"unknown revision {revision!r}; known: {', '.join(sorted(_known_revisions()))}"
        )
    with migration_connection(engine) as connection:
        command.downgrade(_alembic_config(connection), revision)
    return before, status(engine)


def stamp(engine: Engine, revision: str) -> SchemaStatus:
    """Record `revision` without running migrations (repairs a lost alembic_version)."""
    if revision != "head" and revision not in _known_revisions():
        raise SchemaError(
            f"unknown revision {revision!r}; known: {', '.join(sorted(_known_revisions()))}"
        )
    with migration_connection(engine) as connection:
        command.stamp(_alembic_config(connection), revision, purge=True)
    return status(engine)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the migration lock; committed at the end, rolled
    back (so nothing is half-made) on any error."""
    if engine.dialect.name == "sqlite":
        with _sqlite_exclusive(engine) as connection:
            yield connection
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        yield connection


@contextmanager
def _sqlite_exclusive(engine: Engine) -> Iterator[Connection]:
    # The driver's own transaction handling is off (isolation_level=None): every
    # statement, DDL included, runs inside the BEGIN EXCLUSIVE we issue.
    migrator = create_engine(
        engine.url,
        poolclass=NullPool,
        connect_args={"isolation_level": None, "timeout": _SQLITE_LOCK_WAIT_S},
    )
    try:
        with migrator.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            connection.exec_driver_sql(f"PRAGMA busy_timeout={_SQLITE_LOCK_WAIT_S * 1000}")
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
            try:
                yield connection
            except BaseException:
                connection.exec_driver_sql("ROLLBACK")
                raise
            connection.exec_driver_sql("COMMIT")
    finally:
        migrator.dispose()


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _repair_half_made(connection: Connection) -> None:
    """No revision recorded but opsdesk tables present: drop them if all are empty
    (nothing can be lost), else refuse with the command that repairs it."""
    from sqlmodel import SQLModel

    import storage.models  # noqa: F401  (registers the tables)

    ours = set(SQLModel.metadata.tables)
    present = [name for name in inspect(connection).get_table_names() if name in ours]
    if not present:
        return
    with_rows = [
        name
        for name in present
        if connection.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None
    ]
    if with_rows:
        raise SchemaError(
            f"the database has opsdesk tables with data ({', '.join(sorted(with_rows))}) but "
            "no schema revision (alembic_version is missing or empty: made by create_all or "
            "emptied by hand). If its tables are this version's, run `opsdesk db stamp head`; "
            "if it was at an older revision, run `opsdesk db stamp REVISION` with that one; "
            "then `opsdesk db upgrade`"
        )
    for table in reversed(SQLModel.metadata.sorted_tables):
        if table.name in present:
            connection.execute(text(f'DROP TABLE "{table.name}"'))
    connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def _refuse_unknown(found: SchemaStatus) -> None:
    if found.current is not None and found.current not in _known_revisions():
        raise SchemaError(
            f"the database schema is at revision {found.current!r}, newer than this opsdesk "
            f"knows (newest known: {found.head!r}); upgrade opsdesk or point it at another "
            "database"
        )


def _known_revisions() -> set[str]:
    return {revision.revision for revision in _script().walk_revisions()}


# Errors a database open can raise that are the operator's to fix, not a bug.
OPEN_ERRORS: tuple[type[BaseException], ...] = (SQLAlchemyError, sqlite3.Error, OSError)
