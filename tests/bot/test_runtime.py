"""`opsdesk run` end to end in a real subprocess, and the jobs CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from jobs.runs import records as runs
from storage.db import make_engine
from storage.models import Heartbeat, OutboxPost
from tests.support.waiting import read_until


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f"""
data_dir = "{tmp_path / "data"}"

[[jobs]]
name = "tick"
command = "echo tick"
schedule = "every 1s"
post_to = ["log:"]

[[jobs]]
name = "manual-only"
command = "echo by hand"

[operator]
listen = "127.0.0.1:0"   # any free port: tests run side by side
"""
    )
    return config


def opsdesk(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_schedules_jobs_posts_to_the_log_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "-v", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    try:
        # The first fire comes a second after the start: the log says when it ran.
        seen = read_until(process.stderr.fileno(), "tick: ok")
        assert "tick: ok" in seen, seen
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = seen + rest
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'opsdesk.db'}")
    assert process.returncode == 0, stderr
    recorded = runs.runs_of(engine, "tick")
    assert recorded and all(r.status in ("ok", "interrupted") for r in recorded)
    assert recorded[0].status == "ok" and recorded[0].trigger == "schedule"
    with Session(engine) as session:
        posts = session.exec(select(OutboxPost)).all()
        beat = session.get(Heartbeat, "scheduler")
    assert posts and posts[0].status == "sent", "the log deliverer took the post"
    assert "tick: ok" in stderr
    assert beat is not None and beat.status == "stopped"
    engine.dispose()


def test_jobs_json_and_run_job_from_the_shell(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    ran = opsdesk(config, "run-job", "manual-only")
    assert ran.returncode == 0, ran.stderr
    assert "by hand" in ran.stdout
    listed = opsdesk(config, "jobs", "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {line["name"]: line for line in json.loads(listed.stdout)}
    assert by_name["manual-only"]["last_status"] == "ok"
    assert by_name["manual-only"]["schedule"] == "manual"
    assert by_name["tick"]["next_run"] is not None
    unknown = opsdesk(config, "run-job", "nope")
    assert unknown.returncode == 2 and "Known: tick, manual-only" in unknown.stderr
