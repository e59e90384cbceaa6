"""Storage on SQLite and PostgreSQL: migrations, persistence, refusal of newer schemas."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select
from sqlmodel.sql.sqltypes import UTCDateTime

from jobs.review.history import load_review
from jobs.runs import records as runs
from storage import migrate
from storage.db import SQLITE_CACHE_KIB, make_engine, session_scope
from storage.inbound import first_delivery
from storage.models import Feedback, JobRun, ReviewFinding, utcnow
from tests.support.rows import add_finding, add_reviews


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    engine = make_engine(database_url)
    before, after = migrate.upgrade(engine)
    assert before.current is None and after.is_current
    again_before, again_after = migrate.upgrade(engine)
    assert again_before == again_after == after


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    # On PostgreSQL procrastinate's tables (the fire queue) are its schema, not models.
    assert [d for d in differences if "procrastinate_" not in repr(d)] == []


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


def test_a_finding_stored_as_suppressed_by_an_earlier_version_reads_by_todays_feedback(
    engine: Engine,
) -> None:
    """Earlier versions stored `suppressed` as a finding's state in a review; migration
    0011 makes it `open`, so the feedback as it is now decides: a false positive taken
    back since shows the finding open, one that stands hides it."""
    migrate.downgrade(engine, "0010")
    (review_id,) = add_reviews(engine, {"repo": "demo"})
    taken_back = add_finding(engine, message="taken back")
    standing = add_finding(engine, message="still a false positive")
    with session_scope(engine) as session:
        for finding in (taken_back, standing):
            session.add(
                ReviewFinding(
                    review_id=review_id, finding_id=finding.id, state="suppressed", line=3
                )
            )
        session.add(Feedback(finding_id=taken_back.id, user="slack:U1", verdict="helpful"))
        session.add(Feedback(finding_id=standing.id, user="slack:U1", verdict="false_positive"))
    migrate.upgrade(engine)
    review = load_review(engine, review_id)
    assert review is not None
    assert [(f.message, f.status) for f in review.findings] == [("taken back", "open")]
    assert [(f.message, f.status) for f in review.suppressed] == [
        ("still a false positive", "suppressed")
    ]
    assert review.counts == {"new": 0, "open": 1, "fixed": 0, "suppressed": 1, "muted": 0}


def test_an_upgrade_from_before_workers_and_the_fire_queue_keeps_the_runs(
    engine: Engine,
) -> None:
    """A database of the version before worker slots and the fire queue (0011) takes
    the upgrade: its runs keep their rows, with no wait recorded, and on PostgreSQL
    the queue's tables are there for the replicas."""
    migrate.downgrade(engine, "0011")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO job_runs (job, kind, trigger, status, started_at, cache_hit)"
                " VALUES ('nightly', 'command', 'schedule', 'ok', :at, false)"
            ).bindparams(bindparam("at", type_=UTCDateTime())),
            {"at": utcnow()},
        )
    migrate.upgrade(engine)
    [run] = runs.runs_of(engine, "nightly")
    assert (run.status, run.queued_at, run.wait_ms) == ("ok", None, None)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            queued = connection.execute(text("SELECT count(*) FROM procrastinate_jobs"))
            assert queued.scalar() == 0
