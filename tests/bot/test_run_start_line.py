"""`opsdesk run` says in one line what it started, at INFO without -v, in text or JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.cli import ROOT

CONFIG = """
[[jobs]]
name = "nightly"
command = "echo nightly"
schedule = "0 3 * * *"

[[jobs]]
name = "by-hand"
command = "echo by hand"

[operator]
listen = "127.0.0.1:0"   # any free port: tests run side by side
"""


def opsdesk_run(config: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`opsdesk run` started in a subprocess, its stderr (the log) unbuffered in a pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )


def start_line(config: Path, env: dict[str, str] | None = None) -> tuple[str, str]:
    """Run `opsdesk run` until it logs its start line; stop it with SIGTERM. Returns
    (the start line, all of stderr)."""
    process = opsdesk_run(config, env)
    assert process.stderr is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if " started: " in line:
                break
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=60)[1]
    finally:
        if process.poll() is None:
            process.kill()
    stderr = "".join(lines) + rest
    assert process.returncode == 0, stderr
    found = [line for line in lines if " started: " in line]
    assert found, stderr
    return found[0].strip(), stderr


def test_run_logs_one_start_line_at_info_without_verbose(tmp_path: Path) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(CONFIG)
    line, _ = start_line(config)
    database = f"sqlite:///{tmp_path / 'data' / 'opsdesk.db'}"
    assert (
        "started: chat none (posts go to the log); scheduler leader; 2 jobs, 1 scheduled; " in line
    )
    assert "; operator page http://127.0.0.1:" in line
    assert line.endswith(f"; database {database}")
    assert " INFO bot.runtime: opsdesk " in line


def test_run_with_the_scheduler_off_says_so(tmp_path: Path) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(CONFIG + "\n[scheduler]\nenabled = false\n")
    line, _ = start_line(config)
    assert "; scheduler off; 2 jobs" in line


@pytest.mark.postgres
def test_the_start_line_names_the_database_without_its_password(
    tmp_path: Path, pg_url: str
) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(CONFIG)
    # The test server trusts loopback and ignores the password; it must not show either way.
    with_password = make_url(pg_url).set(password="hunter2-secret").render_as_string(False)
    line, stderr = start_line(config, {"OPSDESK_DATABASE_URL": with_password})
    assert "hunter2-secret" not in stderr
    assert "database postgresql+psycopg://root:***@127.0.0.1" in line
    assert "scheduler leader" in line


def test_json_log_format_writes_one_object_a_line(tmp_path: Path) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(CONFIG + '\n[log]\nformat = "json"\n')
    _, stderr = start_line(config, {"OPSDESK_LLM_API_KEY": "sk-never-in-the-log-123"})
    entries = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    started = [e for e in entries if " started: " in e["message"]]
    assert len(started) == 1
    assert started[0]["level"] == "INFO" and started[0]["logger"] == "bot.runtime"
    assert started[0]["time"].endswith("+00:00")
    assert "sk-never-in-the-log-123" not in stderr


@pytest.mark.postgres
def test_a_second_replica_on_postgresql_says_it_stands_by(tmp_path: Path, pg_url: str) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(CONFIG)
    leader = opsdesk_run(config, {"OPSDESK_DATABASE_URL": pg_url})
    try:
        assert leader.stderr is not None
        first = ""
        while " started: " not in first:
            first = leader.stderr.readline()
            assert first, "the first replica ended before its start line"
        assert "scheduler leader" in first
        line, _ = start_line(config, {"OPSDESK_DATABASE_URL": pg_url})
        assert "; scheduler standby; 2 jobs" in line
    finally:
        leader.send_signal(signal.SIGTERM)
        leader.communicate(timeout=60)
    assert leader.returncode == 0
