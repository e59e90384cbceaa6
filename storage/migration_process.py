"""The schema upgrade of a long-running process, run in a child process: `opsdesk run`
never loads Alembic (and Mako, Pygments …); the child inherits only what Python and
libpq need, the URL in its environment and never on its command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import Engine

from storage.db import make_engine
from storage.migrate import SchemaError, SchemaStatus, check, status, upgrade

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
        [sys.executable, "-m", "storage.migration_process"],
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
    engine = make_engine(os.environ[_URL_VARIABLE])
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(_upgrade_from_environment())
