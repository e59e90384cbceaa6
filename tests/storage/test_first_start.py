"""A first start is all-or-nothing and runs once: killed at any statement, the next
start succeeds; twenty starting together all succeed with the migration run once;
a database half-made by an older version is repaired or refused with the command
that repairs it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from storage import migrate
from storage.db import make_engine
from tests.support.cli import ROOT

CHILD = str(Path(__file__).with_name("first_start_child.py"))


def _child(url: str, kill_at: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, CHILD, url, str(kill_at)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip


def _assert_complete(url: str) -> None:
    engine = make_engine(url)
    try:
        found = migrate.check(engine)
        assert found.is_current
        tables = set(inspect(engine).get_table_names())
        assert set(SQLModel.metadata.tables) <= tables
    finally:
        engine.dispose()


def _fresh_urls(database_url: str, tmp_path: Path, count: int) -> list[str]:
    if database_url.startswith("sqlite"):
        return [f"sqlite:///{tmp_path / f'db{i}.sqlite'}" for i in range(count)]
    return [database_url] * count


def _reset(url: str) -> None:
    """PostgreSQL: empty the test's schema for the next kill point."""
    if url.startswith("sqlite"):
        return
    engine = make_engine(url)
    with engine.begin() as connection:
        schema_name = connection.execute(text("SELECT current_schema()")).scalar_one()
        connection.execute(text(f'DROP SCHEMA "{schema_name}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema_name}"'))
    engine.dispose()


def test_a_first_start_killed_at_any_statement_leaves_a_database_the_next_start_completes(
    database_url: str, tmp_path: Path
) -> None:
    counted = _child(database_url, 0)
    assert counted.returncode == 0, counted.stderr
    statements = int(counted.stdout.split()[0])
    assert statements > 20  # the whole first upgrade, statement by statement
    _reset(database_url)
    urls = _fresh_urls(database_url, tmp_path, statements)
    for kill_at, url in enumerate(urls, start=1):
        killed = _child(url, kill_at)
        assert killed.returncode == -signal.SIGKILL, (kill_at, killed.stdout, killed.stderr)
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        _assert_complete(url)
        _reset(url)


def test_twenty_first_starts_at_once_all_succeed_and_the_migration_runs_once(
    database_url: str,
) -> None:
    starters = [
        subprocess.Popen(
            [sys.executable, CHILD, database_url, "-1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(20)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in starters]
    assert [code for code, _, _ in results] == [0] * 20, [err for _, _, err in results if err]
    # Each child says how many CREATE TABLE statements it ran: one child migrated,
    # the others waited for its lock and found nothing to do.
    created = sorted(int(out.split()[1]) for _, out, _ in results)
    assert created[:-1] == [0] * 19 and created[-1] >= len(SQLModel.metadata.tables)
    _assert_complete(database_url)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [r[0] for r in rows] == [migrate.status(make_engine(database_url)).head]


def _half_made(url: str) -> None:
    """What an older opsdesk left when killed mid-first-start: some tables, no revision."""
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in SQLModel.metadata.sorted_tables[:3]:
            table.create(connection)
    engine.dispose()


def _add_a_row(connection: Connection) -> None:
    """Data a database must not lose: one heartbeat row."""
    connection.execute(
        text(
            "INSERT INTO heartbeats (component, holder, status, detail, started_at,"
            " beat_at) VALUES ('scheduler', 'x', 'up', '', '2026-01-01', '2026-01-01')"
        )
    )


def test_a_half_made_database_with_empty_tables_is_repaired(database_url: str) -> None:
    _half_made(database_url)
    before, after = migrate.upgrade(make_engine(database_url))
    assert before.current is None and after.is_current
    _assert_complete(database_url)


def test_a_create_all_database_with_data_is_refused_with_the_repair_command(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        SQLModel.metadata.create_all(connection)
    with engine.begin() as connection:
        _add_a_row(connection)
    with pytest.raises(migrate.SchemaError, match=r"`opsdesk db stamp head`"):
        migrate.upgrade(engine)
    migrate.stamp(engine, "head")
    assert migrate.check(engine).is_current


def test_an_emptied_alembic_version_is_refused_not_re_migrated(engine: Engine) -> None:
    with engine.begin() as connection:
        _add_a_row(connection)
        connection.execute(text("DELETE FROM alembic_version"))
    with pytest.raises(migrate.SchemaError, match="no schema revision"):
        migrate.upgrade(engine)


def test_downgrade_to_base_and_back_up(engine: Engine, database_url: str) -> None:
    _, after = migrate.downgrade(engine, "base")
    assert after.current is None
    assert not set(SQLModel.metadata.tables) & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    _assert_complete(database_url)


def test_db_downgrade_and_upgrade_through_the_cli(tmp_path: Path, database_url: str) -> None:
    from tests.support.cli import opsdesk_with_config

    config = tmp_path / "opsdesk.toml"
    config.write_text("")
    env = {"OPSDESK_DATABASE_URL": database_url}
    assert opsdesk_with_config(config, "db", "upgrade", env=env).returncode == 0
    down = opsdesk_with_config(config, "db", "downgrade", "base", env=env)
    assert down.returncode == 0 and "to empty" in down.stdout, down.stderr
    assert opsdesk_with_config(config, "db", "status", env=env).returncode == 1  # needs an upgrade
    unknown = opsdesk_with_config(config, "db", "downgrade", "nosuch", env=env)
    assert unknown.returncode == 2 and "unknown revision 'nosuch'" in unknown.stderr
    assert opsdesk_with_config(config, "db", "upgrade", env=env).returncode == 0
    _assert_complete(database_url)
