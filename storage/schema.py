"""Schema versions through Alembic migrations (never `create_all` on a live DB).

`upgrade()` brings any database to the current schema and is a no-op the second
time; `check()` refuses a database whose schema is newer than this code knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


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
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def _script() -> ScriptDirectory:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def status(engine: Engine) -> SchemaStatus:
    script = _script()
    head = script.get_current_head()
    assert head is not None, "no migrations shipped"
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return SchemaStatus(current=current, head=head)


def check(engine: Engine) -> SchemaStatus:
    """Raise SchemaError when the database was written by a newer opsdesk."""
    found = status(engine)
    if found.current is not None and found.current not in _known_revisions():
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
        command.upgrade(_alembic_config(engine), "head")
    return before, status(engine)


def _known_revisions() -> set[str]:
    return {revision.revision for revision in _script().walk_revisions()}
