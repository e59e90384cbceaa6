"""Building a process's context from its settings."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from jobs.config.loading import Settings
from jobs.context import Context
from jobs.core.processes import this_runner
from jobs.runs import records as runs
from storage import migrate, migration_process
from storage.db import describe, make_engine

log = logging.getLogger(__name__)


def open_database(settings: Settings, *, migrate_in_child: bool = False) -> Engine:
    """Connect and bring the schema up to date; refuse a newer one (SchemaError).
    `migrate_in_child` (for `opsdesk run`) keeps Alembic out of this process."""
    engine = make_engine(settings.database_url)
    if migrate_in_child:
        before, after = migration_process.upgrade_in_child(engine, settings.database_url)
    else:
        before, after = migrate.upgrade(engine)
    if before.current != after.current:
        log.info(
            "database %s upgraded from %s to %s",
            describe(engine),
            before.current or "empty",
            after.current,
        )
    # Every process that opens the database ends the runs dead processes left open.
    abandoned = runs.mark_abandoned(engine, this_runner(), own_pid_is_new=False)
    if abandoned:
        log.warning("runs %s were left running by a stopped process: abandoned", abandoned)
    return engine


def build_context(settings: Settings, engine: Engine | None = None) -> Context:
    key = settings.secrets.llm_api_key
    return Context(
        config=settings.config,
        engine=engine if engine is not None else open_database(settings),
        data_dir=settings.data_dir,
        config_source=settings.source,
        llm_api_key=key.get_secret_value() if key else None,
    )
