"""The `command` job kind: a shell command with a timeout, a working directory and
an environment. Its output is the result; a non-zero exit or a timeout is a failure.

The command runs in its own process group so a timeout (or shutdown) kills
everything it started, not only the shell.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from jobs.config.schema import JobConfig
from jobs.core import text as words
from jobs.core.child_env import ChildEnvError, child_environment
from jobs.core.scrub import scrub
from jobs.runs.job import JobOutcome, RunContext

MAX_OUTPUT_BYTES = 64 * 1024
_POLL_S = 0.1


def command_workdir(job: JobConfig) -> Path:
    return Path(job.workdir).expanduser() if job.workdir else Path.cwd()


def command_environ(job: JobConfig) -> dict[str, str]:
    """The job's environment: minimal, plus what its `env` names (never the tokens)."""
    return child_environment(job.env)


def run_command_job(ctx: RunContext) -> JobOutcome:
    job = ctx.spec.source
    assert isinstance(job, JobConfig), "a command job comes from a [[jobs]] entry"
    timeout = job.timeout.total_seconds()
    try:
        environ = command_environ(job)
    except ChildEnvError as exc:
        return JobOutcome(status="failed", error=str(exc))
    try:
        process = subprocess.Popen(
            ["/bin/sh", "-c", job.command],
            cwd=command_workdir(job),
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return JobOutcome(status="failed", error=f"could not start the command: {exc}")
    deadline = time.monotonic() + timeout
    stopped_by: str | None = None
    while True:
        try:
            raw, _ = process.communicate(timeout=_POLL_S)
            break
        except subprocess.TimeoutExpired:
            if ctx.cancel.is_set():
                stopped_by = "interrupted"
            elif time.monotonic() >= deadline:
                stopped_by = "timeout"
            if stopped_by:
                _kill_group(process)
                raw, _ = process.communicate()
                break
    output = truncate(scrub(raw.decode("utf-8", errors="replace")))
    if stopped_by == "timeout":
        return JobOutcome(
            status="timeout",
            output=output,
            error=f"timed out after {words.span(job.timeout)}; killed",
        )
    if stopped_by == "interrupted":
        return JobOutcome(
            status="interrupted", output=output, error="stopped: opsdesk was shutting down"
        )
    if process.returncode != 0:
        tail = output.strip().splitlines()[-1:] or ["(no output)"]
        return JobOutcome(
            status="failed",
            output=output,
            error=f"exit status {process.returncode}: {tail[0][:500]}",
        )
    return JobOutcome(status="ok", output=output)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def truncate(text: str, limit: int = MAX_OUTPUT_BYTES) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", errors="ignore")
    return f"{kept}\n[output truncated: {len(data)} bytes, first {limit} kept]"
