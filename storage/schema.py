"""Schema versions through Alembic migrations (never `create_all` on a live DB).

`upgrade()` brings any database to the current schema and is a no-op the second
time; `check()` refuses a database whose schema is newer than this code knows.

Reading the state (`status`, `check`) does not import Alembic: the revisions are read
from the migration files and the database's from its `alembic_version` table, so
health checks in a long-running process never load Alembic (and Mako, Pygments …).
`opsdesk run` applies migrations in a child process (`upgrade_in_child`) for the
same reason; Alembic is imported only where migrations run.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this version of opsdesk."""


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # revision in the database; None for an empty database
    head: str  # newest revision this code knows

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


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


def current_revision(engine: Engine) -> str | None:
    """The revision stored in the database; None when it has no schema yet."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        stored = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        rows = list(stored)
    if len(rows) > 1:
        raise SchemaError(f"the database has several schema revisions at once: {sorted(rows)}")
    return rows[0] if rows else None


def status(engine: Engine) -> SchemaStatus:
    return SchemaStatus(current=current_revision(engine), head=head_revision())


def check(engine: Engine) -> SchemaStatus:
    """Raise SchemaError when the database was written by a newer opsdesk."""
    found = status(engine)
    if found.current is not None and found.current not in revisions():
        raise SchemaError(
            f"the database schema is at revision {found.current!r}, newer than this opsdesk "
            f"knows (newest known: {found.head!r}); upgrade opsdesk or point it at another "
            "database"
        )
    return found


def upgrade(engine: Engine) -> tuple[SchemaStatus, SchemaStatus]:
    """Bring the database to the newest schema; returns (before, after)."""
    before = check(engine)
    if not before.is_current:
        from alembic import command

        command.upgrade(_alembic_config(engine), "head")
    return before, status(engine)


# What the migration process inherits: enough to run Python and reach the database
# (libpq's PG* variables), no chat or model tokens. The URL goes in its environment,
# never on its command line, where `ps` would show a password.
_CHILD_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
_URL_VARIABLE = "OPSDESK_SCHEMA_URL"
MIGRATION_TIMEOUT_S = 600.0


def upgrade_in_child(engine: Engine, url: str) -> tuple[SchemaStatus, SchemaStatus]:
    """`upgrade` for a long-running process: migrations, when any are due, run in a
    child process, so Alembic is never loaded here. `url` is the engine's URL with
    its password."""
    before = check(engine)
    if before.is_current:
        return before, before
    done = subprocess.run(
        [sys.executable, "-m", "storage.schema"],
        env=migration_env(url),
        capture_output=True,
        text=True,
        timeout=MIGRATION_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"])[0]
        password = engine.url.password
        if password:
            last = last.replace(str(password), "***")
        raise SchemaError(f"the schema upgrade failed: {last}")
    return before, status(engine)


def migration_env(url: str) -> dict[str, str]:
    """The migration process's environment: the URL, what Python and libpq need."""
    env = {k: v for k, v in os.environ.items() if k in _CHILD_ENV or k.startswith("PG")}
    source_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))
    env[_URL_VARIABLE] = url
    return env


def _upgrade_from_environment() -> int:
    from storage.db import make_engine

    engine = make_engine(os.environ[_URL_VARIABLE])
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(_upgrade_from_environment())
