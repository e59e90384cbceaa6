"""A feature whose extra is not installed says which extra to install; never an
ImportError or a traceback.

How "not installed" is made: the CLI runs in a subprocess with an import blocker
first on `sys.meta_path` (tests/install/cli.py), so importing the extra's package, or
asking `importlib.util.find_spec` about it, fails exactly as it does when the package
is absent. A fresh virtual environment per missing extra would show the same but
costs a `pip install` (tens of seconds, and the package index) per case; the base
install without any extra is exercised for real by tests/install/test_deploy_kit.py
and bench/footprint.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import opsdesk

SLACK = '[slack]\nenabled = true\nmode = "socket"\n'
TELEGRAM = "[telegram]\nenabled = true\n"


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "opsdesk.toml"
    path.write_text(text)
    return str(path)


def assert_no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr and "ModuleNotFoundError" not in stderr, stderr


@pytest.mark.parametrize(
    ("section", "blocked", "message"),
    [
        (SLACK, ("slack_bolt", "slack_sdk"), "slack.enabled = true needs the 'slack' extra"),
        (TELEGRAM, ("telegram",), "telegram.enabled = true needs the 'telegram' extra"),
    ],
)
def test_run_names_the_missing_chat_extra(
    tmp_path: Path, section: str, blocked: tuple[str, ...], message: str
) -> None:
    result = opsdesk("run", "--config", config(tmp_path, section), blocked=blocked)
    assert result.returncode == 2
    extra = message.split("'")[1]
    assert f"{message}: pip install 'opsdesk[{extra}]'" in result.stderr
    assert_no_traceback(result.stderr)


def test_config_check_names_every_missing_extra(tmp_path: Path) -> None:
    text = 'database_url = "postgresql://opsdesk@db.invalid/opsdesk"\n' + SLACK + TELEGRAM
    result = opsdesk(
        "config",
        "check",
        config(tmp_path, text),
        blocked=("slack_bolt", "slack_sdk", "telegram", "psycopg"),
    )
    assert result.returncode == 1
    for extra in ("slack", "telegram", "postgres"):
        assert f"pip install 'opsdesk[{extra}]'" in result.stderr
    assert_no_traceback(result.stderr)


def test_config_check_notes_that_the_digest_goes_without_a_chart(tmp_path: Path) -> None:
    result = opsdesk("config", "check", config(tmp_path, "[digest]\n"), blocked=("matplotlib",))
    assert result.returncode == 0, result.stderr
    assert "note: the digest is posted without its chart" in result.stdout
    assert "pip install 'opsdesk[charts]'" in result.stdout


def test_a_postgresql_url_without_the_postgres_extra(tmp_path: Path) -> None:
    text = 'database_url = "postgresql://opsdesk@db.invalid/opsdesk"\n'
    result = opsdesk("db", "status", "--config", config(tmp_path, text), blocked=("psycopg",))
    assert result.returncode == 2
    assert "a PostgreSQL database needs the 'postgres' extra: pip install 'opsdesk[postgres]'" in (
        result.stderr
    )
    assert_no_traceback(result.stderr)


def test_digest_png_without_the_charts_extra_names_it(tmp_path: Path) -> None:
    result = opsdesk("digest", "--png", str(tmp_path / "chart.png"), blocked=("matplotlib",))
    assert result.returncode == 2
    assert "the digest's chart (--png) needs the 'charts' extra" in result.stderr
    assert not (tmp_path / "chart.png").exists()
    assert_no_traceback(result.stderr)


def test_the_digest_without_the_charts_extra_is_posted_as_text_with_a_note() -> None:
    # The console renders what every platform posts: the text, and the note.
    result = opsdesk("console", blocked=("matplotlib",), stdin="/digest\n")
    assert result.returncode == 0, result.stderr
    assert "Daily digest" in result.stdout
    assert "No chart: the digest's chart needs the 'charts' extra" in result.stdout
    assert "[image:" not in result.stdout
    assert_no_traceback(result.stderr)


def test_the_terminal_chat_needs_no_extra() -> None:
    blocked = ("slack_bolt", "slack_sdk", "telegram", "psycopg", "matplotlib")
    result = opsdesk("console", blocked=blocked, stdin="/help\n/health\n")
    assert result.returncode == 0, result.stderr
    assert "/review" in result.stdout and "All up" in result.stdout
    assert_no_traceback(result.stderr)


def test_config_check_without_a_file_still_checks_the_database_url_of_the_environment(
    tmp_path: Path,
) -> None:
    result = opsdesk(
        "config",
        "check",
        cwd=tmp_path,
        blocked=("psycopg",),
        env={"OPSDESK_DATABASE_URL": "postgresql://opsdesk@db.invalid/opsdesk"},
    )
    assert result.returncode == 1
    assert "the embedded defaults: needs packages that are not installed" in result.stderr
    assert "pip install 'opsdesk[postgres]'" in result.stderr
