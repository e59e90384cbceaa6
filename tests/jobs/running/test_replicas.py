"""Replicas share the work on a real PostgreSQL, through the fire queue
(jobs/running/fire_queue.py), with real `opsdesk run` processes: the leader decides
when, whichever replica has a free worker runs the fire; a replica killed -9 mid-run
has its run recorded and run once more elsewhere, posted once.

Jobs say when they started by writing their shell's pid into a FIFO the test reads,
and end when the test creates their `go` file; every wait is for a line or a FIFO."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from jobs.runs import records as runs
from storage import migrate
from storage.db import make_engine
from storage.models import JobRun
from tests.support.processes import OpsdeskProcess, first_line, opsdesk_processes
from tests.support.waiting import fifo_line

pytestmark = pytest.mark.postgres


def held_job(name: str, tmp_path: Path, schedule: str) -> str:
    """A job that says it started (its pid into `started-NAME`, while that is a FIFO)
    and runs until `go` exists."""
    started, go = tmp_path / f"started-{name}", tmp_path / "go"
    os.mkfifo(started)
    command = (
        f"if [ -p {started} ]; then echo $$ > {started}; fi; "
        f"until [ -e {go} ]; do sleep 0.05; done; echo finished"
    )
    return (
        f'[[jobs]]\nname = "{name}"\ncommand = "{command}"\nschedule = "{schedule}"\n'
        'post_to = ["log:"]\n'
    )


def replica_config(tmp_path: Path, name: str, url: str, jobs: str) -> Path:
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'database_url = "{url}"\n'
        f'data_dir = "{tmp_path / name}"\n'
        "[operator]\nenabled = false\n"
        '[scheduler]\nheartbeat = "1s"\nshutdown_grace = "1s"\nworkers = 1\n' + jobs
    )
    return config


@contextlib.contextmanager
def ending_shells(pids: list[int]) -> Iterator[None]:
    """Job shells a killed replica left behind end with the test."""
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def first_fire(engine: Engine, job: str) -> list[JobRun]:
    """The runs of `job`'s first fire (later fires are recorded or run as well)."""
    rows = [r for r in runs.runs_of(engine, job) if r.status != "missed"]
    first = min(r.scheduled_at for r in rows if r.scheduled_at is not None)
    return sorted((r for r in rows if r.scheduled_at == first), key=lambda r: r.started_at)


def process_of(processes: list[OpsdeskProcess], runner: str | None) -> OpsdeskProcess:
    [found] = [p for p in processes if runner is not None and runner.endswith(f":{p.pid}")]
    return found


def test_two_replicas_run_one_nights_jobs_side_by_side(pg_url: str, tmp_path: Path) -> None:
    """One worker each, two jobs due at once: both run at the same time, one on each
    replica (on the leader alone, the second would wait for the first to end)."""
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    jobs = held_job("a", tmp_path, "every 4s") + held_job("b", tmp_path, "every 4s")
    configs = [replica_config(tmp_path, name, pg_url, jobs) for name in ("r1", "r2")]
    shells: list[int] = []
    with ending_shells(shells), opsdesk_processes(*configs) as replicas:
        shells += [int(fifo_line(tmp_path / "started-a")), int(fifo_line(tmp_path / "started-b"))]
        (tmp_path / "started-a").unlink()  # later fires say nothing
        (tmp_path / "started-b").unlink()
        running = [r for r in runs.runs_of(engine) if r.status == "running"]
        (tmp_path / "go").touch()
        for job in ("a", "b"):
            first_line(rf"job {job} run \d+: ok", [(p, 0) for p in replicas])
    engine.dispose()

    assert sorted(r.job for r in running) == ["a", "b"]
    assert {process_of(replicas, r.runner).pid for r in running} == {p.pid for p in replicas}


def test_a_replica_killed_mid_run_has_its_run_run_once_more_elsewhere_posted_once(
    pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    jobs = held_job("long", tmp_path, "every 3s")
    configs = [replica_config(tmp_path, name, pg_url, jobs) for name in ("r1", "r2")]
    shells: list[int] = []
    with ending_shells(shells), opsdesk_processes(*configs) as replicas:
        shells.append(int(fifo_line(tmp_path / "started-long")))
        [orphan] = [r for r in runs.runs_of(engine, "long") if r.status == "running"]
        doomed = process_of(replicas, orphan.runner)
        [survivor] = [p for p in replicas if p is not doomed]
        mark = survivor.mark()
        doomed.kill()
        survivor.wait_for("its replica stopped mid-run; run again on another", after=mark)
        shells.append(int(fifo_line(tmp_path / "started-long")))  # the run, once more
        (tmp_path / "started-long").unlink()
        (tmp_path / "go").touch()
        survivor.wait_for(r"job long run \d+: ok", after=mark)
    night = first_fire(engine, "long")
    with engine.connect() as connection:
        posts = [row[0] for row in connection.execute(text("SELECT dedupe_key FROM outbox"))]
    engine.dispose()

    assert (night[0].id, night[0].runner) == (orphan.id, orphan.runner)
    assert night[0].status in ("abandoned", "interrupted")  # closed, never left running
    assert [(r.status, process_of(replicas, r.runner)) for r in night[1:]] == [("ok", survivor)]
    assert [key for key in posts if key.startswith(f"run:{night[0].id}")] == []
    assert [key.split("|")[0] for key in posts if key.startswith(f"run:{night[1].id}")] == [
        f"run:{night[1].id}"
    ]
