"""Leadership through faults outside opsdesk, with real `opsdesk run` replicas on a real
PostgreSQL: the leader's backend terminated (as a restart, a failover or a network cut
does), a standby whose lock attempts fail. Exactly one replica schedules throughout."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from jobs.runs import records as runs
from storage import migrate
from storage.db import make_engine
from storage.leadership import LOCK_KEY
from storage.models import JobRun
from tests.support.processes import first_line, opsdesk_processes
from tests.support.tcp_proxy import tcp_proxy_for
from tests.support.waiting import fifo_line

pytestmark = pytest.mark.postgres

HEARTBEAT_S = 1.0
TICK = r"job tick run \d+: ok"
HALF_S = timedelta(milliseconds=500)


def replica_config(tmp_path: Path, name: str, url: str) -> Path:
    """A replica with a one-second heartbeat and a job every second."""
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'database_url = "{url}"\n'
        f'data_dir = "{tmp_path / name}"\n'
        "[operator]\nenabled = false\n"
        '[scheduler]\nheartbeat = "1s"\n'
        '[[jobs]]\nname = "tick"\ncommand = "true"\nschedule = "every 1s"\n'
    )
    return config


def terminate_leader_backend(engine: Engine) -> int:
    """pg_terminate_backend on the connection that holds this schema's scheduler lock,
    as a server restart or failover would; returns how many backends it ended."""
    with engine.begin() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND objsubid = 2"
                    " AND classid::bigint = :key"
                    " AND objid::bigint = (hashtext(current_schema())::bigint & 4294967295)"
                ),
                {"key": LOCK_KEY},
            ).scalar_one()
        )


def close_fires(rows: list[JobRun]) -> int:
    """Fires of an every-second job less than half a second apart: two schedulers at
    once fire it at two phases of each second (either replica may run a fire: the
    fire queue decides where, so who ran it says nothing about who scheduled it)."""
    times = sorted(row.scheduled_at for row in rows if row.scheduled_at is not None)
    return sum(1 for before, after in itertools.pairwise(times) if after - before < HALF_S)


def test_a_terminated_leader_backend_leaves_exactly_one_scheduler(
    pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    first, second = replica_config(tmp_path, "a", pg_url), replica_config(tmp_path, "b", pg_url)
    with opsdesk_processes(first, second) as (leader, standby):
        leader.wait_for("leading the scheduler")
        assert "scheduler standby" in standby.wait_for(" started: ")
        leader.wait_for(TICK)
        marks = (leader.mark(), standby.mark())

        assert terminate_leader_backend(engine) == 1
        cut_at = time.monotonic()
        leader.wait_for("stepped down as scheduler leader", after=marks[0])
        stepped_down_in = time.monotonic() - cut_at
        # Someone leads again (the old leader may win the lock back: either is one).
        first_line("leading the scheduler", [(leader, marks[0]), (standby, marks[1])])
        for _ in range(4):  # run by either replica: the queue decides where
            first_line(TICK, [(leader, leader.mark()), (standby, standby.mark())])
    rows = [row for row in runs.runs_of(engine, "tick") if row.status != "missed"]
    engine.dispose()

    assert stepped_down_in < HEARTBEAT_S + 2, f"stepped down after {stepped_down_in:.1f}s"
    assert close_fires(rows) <= 1, "fires at two phases: two replicas were scheduling"
    fires = [row.scheduled_at for row in rows]
    assert len(fires) == len(set(fires)), "a fire ran twice"


def test_a_standby_whose_lock_attempts_failed_takes_over_later(pg_url: str, tmp_path: Path) -> None:
    """The standby reaches PostgreSQL through a proxy the test cuts: its lock attempts
    fail for a while. Once the database is back and the leader dies (kill -9), the
    standby leads: its loop outlived the errors."""
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    with tcp_proxy_for(pg_url) as proxy:
        configs = (
            replica_config(tmp_path, "a", pg_url),
            replica_config(tmp_path, "b", proxy.url_for(pg_url)),
        )
        with opsdesk_processes(*configs) as (leader, standby):
            leader.wait_for("leading the scheduler")
            mark = standby.mark()
            proxy.cut()
            standby.wait_for("could not try the scheduler lock", after=mark)
            standby.wait_for("could not try the scheduler lock", after=standby.mark())
            proxy.restore()
            mark = standby.mark()
            leader.kill()
            standby.wait_for("leading the scheduler", after=mark)
            standby.wait_for(TICK, after=mark)
    ticks = [row for row in runs.runs_of(engine, "tick") if row.status == "ok"]
    engine.dispose()
    assert ticks[-1].runner is not None and ticks[-1].runner.endswith(f":{standby.pid}")


def test_a_run_orphaned_by_kill_9_is_reclaimed_by_the_other_replica(
    pg_url: str, tmp_path: Path
) -> None:
    """A replica dies (kill -9) in the middle of a run: the replica that lives closes
    the run as abandoned at its next heartbeat, without a restart of anything."""
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    configs = []
    for name in ("a", "b"):
        config = replica_config(tmp_path, name, pg_url)
        config.write_text(
            config.read_text().replace(
                'name = "tick"\ncommand = "true"\nschedule = "every 1s"',
                f'name = "long"\ncommand = "echo $$ > {fifo}; exec sleep 600"\n'
                'schedule = "every 1s"',
            )
        )
        configs.append(config)
    job_group = None
    try:
        with opsdesk_processes(*configs) as (leader, standby):
            leader.wait_for("leading the scheduler")
            job_group = int(fifo_line(fifo))
            # (and a `missed` row for each fire while it runs: it never overlaps itself)
            [orphan] = [row for row in runs.runs_of(engine, "long") if row.status == "running"]
            assert orphan.runner is not None
            # Whichever replica took the fire from the queue dies; the other closes it.
            on_leader = orphan.runner.endswith(f":{leader.pid}")
            doomed, survivor = (leader, standby) if on_leader else (standby, leader)
            doomed.kill()
            survivor.wait_for(r"runs \[\d+\] were left running by a process that died")
        [reclaimed] = [row for row in runs.runs_of(engine, "long") if row.id == orphan.id]
        assert reclaimed.status == "abandoned"
        assert f"({orphan.runner}) stopped before it finished" in (reclaimed.error or "")
    finally:
        if job_group is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job_group, signal.SIGKILL)
        engine.dispose()
