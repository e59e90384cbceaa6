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

Reading the state (`status`, `check`) does not import Alembic: the revisions are read
from the migration files and the database's from its `alembic_version` table, so
health checks in a long-running process never load Alembic (and Mako, Pygments …).
`opsdesk run` applies migrations in a child process (storage/migration_process.py) for
the same reason; Alembic is imported only where migrations run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import NullPool, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables _repair_half_made looks for)

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps
# "opsdesk is migrating these tables": "opmg" as an int, paired with the schema's hash
# (pg_advisory_xact_lock(int, int)), so deployments in other schemas do not wait.
MIGRATION_LOCK_KEY = 0x6F706D67
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


@cache
def revisions() -> dict[str, tuple[str, ...]]:
    """Each shipped revision and the revisions it follows, read from the files'
    `revision` and `down_revision` assignments (what Alembic itself reads)."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                values[target.id] = ast.literal_eval(value)
        revision, down = values.get("revision"), values.get("down_revision")
        if isinstance(revision, str):
            found[revision] = (down,) if isinstance(down, str) else tuple(down or ())  # type: ignore[arg-type]
    return found


def head_revision() -> str:
    known = revisions()
    followed = {down for downs in known.values() for down in downs}
    heads = sorted(set(known) - followed)
    assert len(heads) == 1, f"the migrations must have one head, found {heads or 'none'}"
    return heads[0]


def current_revision(connection: Connection) -> str | None:
    """The revision stored in the database; None when it has no schema yet."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = list(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    if len(rows) > 1:
        raise SchemaError(f"the database has several schema revisions at once: {sorted(rows)}")
    return rows[0] if rows else None


def status(engine: Engine) -> SchemaStatus:
    with engine.connect() as connection:
        current = current_revision(connection)
    return SchemaStatus(current=current, head=head_revision())


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
        from alembic import command

        # Read again under the lock: another process may have migrated meanwhile.
        current = current_revision(connection)
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
    from alembic import command

    with migration_connection(engine) as connection:
        command.downgrade(_alembic_config(connection), revision)
    return before, status(engine)


def stamp(engine: Engine, revision: str) -> SchemaStatus:
    """Record `revision` without running migrations (repairs a lost alembic_version)."""
    if revision != "head" and revision not in _known_revisions():
        raise SchemaError(
            f"unknown revision {revision!r}; known: {', '.join(sorted(_known_revisions()))}"
        )
    from alembic import command

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
                text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                {"key": MIGRATION_LOCK_KEY},
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
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _repair_half_made(connection: Connection) -> None:
    """No revision recorded but opsdesk tables present: drop them if all are empty
    (nothing can be lost), else refuse with the command that repairs it."""
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
    return set(revisions())
