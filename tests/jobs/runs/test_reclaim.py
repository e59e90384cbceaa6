"""Every run ends: a killed `run-job` leaves a row the next opsdesk process (any
command that opens the database) marks abandoned; runs beat, so another host's
dead run is reclaimed after a few missed beats, not 12 hours."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs.runs import records as runs
from storage.db import make_engine, session_scope
from storage.models import JobRun, utcnow
from tests.support.cli import ROOT, opsdesk_with_config
from tests.support.waiting import commits, fifo_line


def _rows(engine: Engine) -> list[JobRun]:
    with Session(engine) as session:
        return list(session.exec(select(JobRun).order_by(JobRun.id)).all())  # type: ignore[arg-type]


def test_a_killed_run_jobs_row_is_reclaimed_by_the_next_process(
    tmp_path: Path, database_url: str
) -> None:
    started = tmp_path / "job.started"  # a FIFO: the job writes its pid once it runs
    os.mkfifo(started)
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'database_url = "{database_url}"\n'
        "[[jobs]]\n"
        'name = "slow"\n'
        f'command = "echo $$ > {started}; exec sleep 60"\n'
    )
    env = {**os.environ, "OPSDESK_CONFIG": str(config)}
    child = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run-job", "slow"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    job_pid = int(fifo_line(started))
    child.send_signal(signal.SIGKILL)
    child.wait()
    os.kill(job_pid, signal.SIGKILL)  # the job's own process group
    engine = make_engine(database_url)
    (row,) = _rows(engine)
    assert row.status == "running" and row.runner and row.runner.endswith(f":{child.pid}")
    listed = opsdesk_with_config(config, "jobs")  # any command that opens the database
    assert listed.returncode == 0, listed.stderr
    (row,) = _rows(engine)
    assert row.status == "abandoned"
    assert row.finished_at is not None and "stopped before it finished" in (row.error or "")


def test_another_hosts_run_is_reclaimed_after_missed_beats_not_before(engine: Engine) -> None:
    now = utcnow()
    silent = now - runs.RUN_BEAT_EVERY * (runs.MISSED_BEATS + 1)
    recent = now - runs.RUN_BEAT_EVERY
    with session_scope(engine) as session:
        for name, beat in (("dead", silent), ("alive", recent)):
            session.add(
                JobRun(job=name, kind="command", trigger="manual", runner="otherhost:42",
                       started_at=now - timedelta(minutes=30), heartbeat_at=beat)
            )  # fmt: skip
    abandoned = runs.mark_abandoned(engine, "thishost:1", own_pid_is_new=False)
    states = {r.job: r.status for r in _rows(engine)}
    assert states == {"dead": "abandoned", "alive": "running"}
    assert len(abandoned) == 1


def test_a_running_run_beats(engine: Engine) -> None:
    row = runs.start_run(engine, job="j", kind="command", trigger="manual", runner="h:1")
    assert row.id is not None and row.heartbeat_at is not None
    first = row.heartbeat_at

    def beaten() -> bool:
        (now,) = _rows(engine)
        return now.heartbeat_at is not None and now.heartbeat_at > first

    with commits() as committed, runs.beating(engine, row.id, every=timedelta(milliseconds=50)):
        committed.wait_until(beaten)
    (again,) = _rows(engine)
    assert again.heartbeat_at is not None and again.heartbeat_at > first
