"""Storage on SQLite and PostgreSQL: migrations, persistence, refusal of newer schemas."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from storage import migrate
from storage.db import SQLITE_CACHE_KIB, make_engine, session_scope
from storage.inbound import first_delivery
from storage.models import JobRun


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    before, after = migrate.upgrade(engine)
    assert before.current is None and after.is_current
    again_before, again_after = migrate.upgrade(engine)
    assert again_before == again_after == after


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_newer_schema_is_refused(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(migrate.SchemaError, match="newer than this opsdesk knows"):
        migrate.upgrade(engine)


def test_data_written_by_one_process_is_there_for_the_next(
    engine: Engine, database_url: str
) -> None:
    writer = (
        "import sys; from storage.db import make_engine, session_scope;"
        "from storage.models import JobRun;"
        "e = make_engine(sys.argv[1]);"
        "s = session_scope(e).__enter__();"
        "s.add(JobRun(job='nightly', kind='command', trigger='manual', status='ok'));"
        "s.commit()"
    )
    subprocess.run([sys.executable, "-c", writer, database_url], check=True)
    with Session(engine) as session:
        runs = session.exec(select(JobRun)).all()
    assert [(r.job, r.status) for r in runs] == [("nightly", "ok")]
    assert runs[0].started_at.tzinfo is not None


def test_times_come_back_as_aware_utc(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(JobRun(job="j", kind="command", trigger="manual"))
    with Session(engine) as session:
        run = session.exec(select(JobRun)).one()
    assert run.started_at.utcoffset() is not None
    assert run.started_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_an_inbound_event_is_new_only_once(engine: Engine) -> None:
    assert first_delivery(engine, "slack", "trigger-1") is True
    assert first_delivery(engine, "slack", "trigger-1") is False
    assert first_delivery(engine, "telegram", "trigger-1") is True


def test_sqlite_runs_in_wal_mode_with_a_small_page_cache_per_connection(
    sqlite_engine: Engine,
) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
