"""The terminal chat and the CLI, run as a user runs them: real processes."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.console import Console
from handlers.catalog import build_router
from tests.support.cli import opsdesk
from tests.support.context import jobs_context
from tests.support.rows import add_finding


def test_piped_console_prints_help_and_health_and_exits_zero(tmp_path: Path) -> None:
    result = opsdesk("console", stdin="/help\n/health\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "== opsdesk commands ==" in result.stdout
    assert "/health [all] — what is wrong and what to do; all: every component" in result.stdout
    assert "✅ All up" in result.stdout


def test_on_the_embedded_defaults_review_says_how_to_add_a_repository(tmp_path: Path) -> None:
    result = opsdesk("console", stdin="/review demo\n/help\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "unknown repository 'demo': none is configured yet" in result.stdout
    assert "add a [[repos]] entry with its name and path to opsdesk.toml" in result.stdout
    # An admin-only command says so once, at the end of its line.
    assert "/mute <repo> <RULE> — leave a rule's findings out" in result.stdout
    assert "— admins:" not in result.stdout


def test_health_json_and_exit_code(tmp_path: Path) -> None:
    opsdesk("db", "upgrade", cwd=tmp_path)
    result = opsdesk("health", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "up"
    assert {c["name"] for c in report["components"]} >= {"database", "schema", "config"}


def test_health_fails_on_an_unmigrated_database(tmp_path: Path) -> None:
    result = opsdesk("health", cwd=tmp_path)
    assert result.returncode == 1
    assert "opsdesk db upgrade" in result.stdout


def test_db_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    first = opsdesk("db", "upgrade", cwd=tmp_path)
    second = opsdesk("db", "upgrade", cwd=tmp_path)
    assert first.returncode == second.returncode == 0
    assert "upgraded from empty" in first.stdout
    assert "nothing to do" in second.stdout


def test_a_broken_config_stops_the_bot_with_the_key_named(tmp_path: Path) -> None:
    (tmp_path / "opsdesk.toml").write_text("[digest]\ntime = '25:00'\n")
    result = opsdesk("console", stdin="/help\n", cwd=tmp_path)
    assert result.returncode == 2
    assert "digest.time: invalid time '25:00'" in result.stderr


def test_typing_a_number_presses_that_button(sqlite_engine: Engine, tmp_path: Path) -> None:
    add_finding(
        sqlite_engine, severity="error", category="F821", source="ruff:F821",
        message="undefined name \x1b[31mred",
    )  # fmt: skip
    from jobs.config.schema import Config

    out = _Buffer()
    config = Config.model_validate({"repos": [{"name": "demo", "path": str(tmp_path)}]})
    console = Console(build_router(jobs_context(sqlite_engine, config)), out, tmp_path)
    console.say("/findings demo")
    assert "[1] Helpful  [2] Not helpful  [3] False positive  [4] Resolved" in out.text
    assert "\x1b" not in out.text  # model text cannot drive the terminal
    reply = console.say("3")
    assert reply is not None and reply.title == "Feedback recorded"
    assert "false positive, marked by console" in out.text
    console.say("9")
    assert "There is no button 9" in out.text


class _Buffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass
