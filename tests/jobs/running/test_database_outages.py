"""Every fire leaves a trace through a database outage, against a real `opsdesk run` on
a real PostgreSQL reached through a proxy the test cuts (every connection reset, new
ones refused): a run whose end falls in the outage is written when the database
returns, with its post, never left `running`. A fire that falls in the outage, while
no replica can prove the lock, is run by the next leader within the misfire grace
(tests/jobs/running/test_scheduler.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from jobs.runs import records as runs
from storage import migrate
from storage.db import make_engine
from tests.support.processes import OpsdeskProcess, config_on
from tests.support.tcp_proxy import tcp_proxy_for
from tests.support.waiting import fifo_line

pytestmark = pytest.mark.postgres


def open_gate(gate: Path) -> None:
    """Let the waiting job finish: write its line into the FIFO it reads."""
    with gate.open("w") as fifo:
        fifo.write("go\n")


def test_a_run_ending_and_a_fire_falling_in_an_outage_are_both_recorded(
    pg_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    started, gate = tmp_path / "started", tmp_path / "gate"
    os.mkfifo(started)
    os.mkfifo(gate)
    with tcp_proxy_for(pg_url) as proxy:
        config = config_on(
            tmp_path,
            proxy.url_for(pg_url),
            '[scheduler]\nheartbeat = "1s"\nshutdown_grace = "1s"\n'
            '[[jobs]]\nname = "gate"\nschedule = "every 2s"\npost_to = ["log:"]\n'
            f'command = "echo go > {started}; read line < {gate}; echo finished"\n',
        )
        process = OpsdeskProcess(config)
        try:
            process.wait_for(" started: ")
            fifo_line(started)  # the gate's first run is under way
            mark = process.mark()
            proxy.cut()
            threading.Thread(target=open_gate, args=(gate,), daemon=True).start()
            process.wait_for(r"could not write run \d+'s end", after=mark)
            process.wait_for(r"stepped down as scheduler leader", after=mark)
            restored = process.mark()
            proxy.restore()
            ended = process.wait_for(r"job gate run \d+: ok", after=restored)
            gate_run = int(ended.split(" run ", 1)[1].split(":", 1)[0])
            process.wait_for(r"post \d+ for log:", after=restored)
            process.wait_for("leading the scheduler", after=restored)
        finally:
            process.stop()
    rows = runs.runs_of(engine)
    engine.dispose()
    [gate_row] = [row for row in rows if row.id == gate_run]
    assert gate_row.status == "ok" and "finished" in (gate_row.output or "")
    assert "running" not in {row.status for row in rows if row.id == gate_run}
