"""Every `opsdesk run` start-up failure is one line naming the key or the cause,
exit code 2 — never a traceback. Real files, real PostgreSQL, the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from storage import migrate
from storage.db import make_engine
from tests.support.cli import opsdesk_with_config


def _run(tmp_path: Path, **env: str) -> tuple[int, list[str]]:
    config = tmp_path / "opsdesk.toml"
    if not config.exists():
        config.write_text("")
    done = opsdesk_with_config(config, "run", env=env, timeout=60)
    return done.returncode, done.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "OPSDESK_DATABASE_URL: not a database URL"),
        ("foo://x/y", "OPSDESK_DATABASE_URL: unknown database driver 'foo'"),
        ("mysql://u@h/db", "OPSDESK_DATABASE_URL: unknown database driver 'mysql'"),
        ("postgresql+asyncpg://u@h/db", "unknown database driver 'postgresql+asyncpg'"),
        ("sqlite:///", "OPSDESK_DATABASE_URL: a SQLite URL needs a file path"),
        ("postgresql://root@127.0.0.1:1/test", "OPSDESK_DATABASE_URL: cannot connect"),
    ],
)
def test_a_bad_database_url_is_one_line_exit_2(tmp_path: Path, url: str, says: str) -> None:
    code, lines = _run(tmp_path, OPSDESK_DATABASE_URL=url)
    assert code == 2 and len(lines) == 1 and says in lines[0], lines


def test_a_data_dir_under_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    code, lines = _run(tmp_path, OPSDESK_DATA_DIR=str(tmp_path / "afile" / "sub"))
    assert code == 2 and len(lines) == 1, lines
    assert "data_dir: cannot create" in lines[0] and "a file is in the way" in lines[0]


def test_a_file_that_is_not_sqlite_is_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database " * 100)
    code, lines = _run(tmp_path, OPSDESK_DATABASE_URL=f"sqlite:///{junk}")
    assert code == 2 and lines == [
        "opsdesk: OPSDESK_DATABASE_URL: the file is not a SQLite database"
    ]


def _with_a_row(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO job_states (job, paused, changed_at) VALUES ('j', true, '2026-01-01')"
            )
        )
    engine.dispose()


def test_an_emptied_alembic_version_names_the_repair(tmp_path: Path, database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    _with_a_row(database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
    code, lines = _run(tmp_path, OPSDESK_DATABASE_URL=database_url)
    assert code == 2 and len(lines) == 1 and "`opsdesk db stamp head`" in lines[0], lines


def test_a_create_all_database_names_the_repair(tmp_path: Path, database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        SQLModel.metadata.create_all(connection)
    _with_a_row(database_url)
    code, lines = _run(tmp_path, OPSDESK_DATABASE_URL=database_url)
    assert code == 2 and len(lines) == 1 and "`opsdesk db stamp head`" in lines[0], lines
    stamped = opsdesk_with_config(tmp_path / "opsdesk.toml", "db", "stamp", "head",
                      env={"OPSDESK_DATABASE_URL": database_url})  # fmt: skip
    assert stamped.returncode == 0, stamped.stderr
    assert migrate.check(engine).is_current


def test_deep_or_huge_toml_is_refused_by_name(tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    done = opsdesk_with_config(deep, "config", "check", str(deep))
    assert done.returncode == 1 and "nested too deeply" in done.stderr
    huge = tmp_path / "huge.toml"
    huge.write_text("# padding\n" * 200_000)
    done = opsdesk_with_config(huge, "run")
    assert done.returncode == 2 and "the limit is 1048576" in done.stderr


def test_config_check_names_duration_bounds(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[jobs]]\nname = "x"\ncommand = "true"\nschedule = "every 0s"\ntimeout = "99999999999w"\n'
    )
    done = opsdesk_with_config(bad, "config", "check", str(bad))
    assert done.returncode == 1
    assert (
        "jobs[0].timeout: duration '99999999999w' is too long: the maximum is 366d" in done.stderr
    )
    assert "jobs[0].schedule: duration '0s' is too short: the minimum is 1s" in done.stderr
