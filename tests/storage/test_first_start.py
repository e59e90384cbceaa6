"""A first start is all-or-nothing and runs once: killed at any statement, the next
start succeeds; twenty starting together all succeed with the migration run once;
a database half-made by an older version is repaired or refused with the command
that repairs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from storage import migrate
from storage.db import make_engine
from tests.support.cli import ROOT

CHILD = str(Path(__file__).with_name("first_start_child.py"))


class Starts:
    """First starts in fresh processes forked by one server process (first_start_child.py)
    that imported opsdesk once."""

    def __init__(self, log: Path) -> None:
        self.log = log.open("w")
        self.server = subprocess.Popen(
            [sys.executable, CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True, cwd=ROOT,
        )  # fmt: skip

    def _ask(self, request: str, answers: int) -> list[str]:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.write(request + "\n")
        self.server.stdin.flush()
        lines = [self.server.stdout.readline().strip() for _ in range(answers)]
        assert all(lines), f"the start server stopped: {self.log.name}"
        return lines

    def killed_at(self, url: str, statement: int) -> str:
        """One start, killed with SIGKILL just before its `statement`-th statement (0:
        never); "killed" or "exit N", then what it printed."""
        return self._ask(f"kill {url} {statement}", 1)[0]

    def together(self, url: str, count: int) -> list[str]:
        """`count` starts at the same moment; each one's answer."""
        return self._ask(f"together {url} {count}", count)

    def close(self) -> None:
        if self.server.stdin is not None:
            self.server.stdin.close()
        self.server.wait(timeout=60)
        self.log.close()


@pytest.fixture
def starts(tmp_path: Path) -> Iterator[Starts]:
    server = Starts(tmp_path / "starts.log")
    yield server
    server.close()


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
    database_url: str, tmp_path: Path, starts: Starts
) -> None:
    counted = starts.killed_at(database_url, 0)
    assert counted.startswith("exit 0 "), counted
    statements = int(counted.split()[2])
    assert statements > 20  # the whole first upgrade, statement by statement
    _reset(database_url)
    urls = _fresh_urls(database_url, tmp_path, statements)
    for kill_at, url in enumerate(urls, start=1):
        killed = starts.killed_at(url, kill_at)
        assert killed == "killed", (kill_at, killed, (tmp_path / "starts.log").read_text())
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        _assert_complete(url)
        _reset(url)


def test_twenty_first_starts_at_once_all_succeed_and_the_migration_runs_once(
    database_url: str, tmp_path: Path, starts: Starts
) -> None:
    results = starts.together(database_url, 20)
    assert all(r.startswith("exit 0 ") for r in results), (
        results,
        (tmp_path / "starts.log").read_text(),
    )
    # Each start says how many CREATE TABLE statements it ran: one migrated, the
    # others waited for its lock and found nothing to do.
    created = sorted(int(r.split()[3]) for r in results)
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
