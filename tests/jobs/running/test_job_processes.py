"""A job's processes die with opsdesk, against a real `opsdesk run`: after kill -9 of
opsdesk (no goodbye, no clean-up), what its job started — the shell and its children —
ends too, instead of running on unwatched."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from tests.support.processes import OpsdeskProcess
from tests.support.waiting import fifo_line, wait_for_exit


def test_a_jobs_processes_end_when_opsdesk_is_killed(tmp_path: Path) -> None:
    started = tmp_path / "started"
    os.mkfifo(started)
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        "[operator]\nenabled = false\n"
        '[[jobs]]\nname = "long"\nschedule = "every 1s"\n'
        f'command = "sleep 300 & echo $! > {started}; wait"\n'
    )
    process = OpsdeskProcess(config)
    child = 0
    try:
        process.wait_for(" started: ")
        child = int(fifo_line(started))  # the job's own child, the shell's grandchild
        assert os.getpgid(child) != os.getpgid(process.pid)
        process.kill()
        wait_for_exit(child)
    finally:
        process.kill()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
