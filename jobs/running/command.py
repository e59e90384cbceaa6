"""The `command` job kind: a shell command with a timeout, a working directory and
an environment. Its output is the result; a non-zero exit or a timeout is a failure.

The command runs in its own process group so a timeout (or shutdown) kills
everything it started, not only the shell. The group also dies with opsdesk: a
watcher in it reads a pipe whose only writer is opsdesk, and kills the group when the
pipe ends without the command having ended (opsdesk was killed, even with -9), so a
job's shells never outlive the process that ran them.
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
# `$1` is the command; standard input, the pipe only opsdesk writes to. The watcher
# waits for the pipe's end (opsdesk gone) and kills the whole group; a command that
# ends first takes the watcher with it. Exit status and output are the command's.
GUARDED = (
    "exec 3<&0 </dev/null\n"
    "(read -r _ <&3; kill -KILL 0) >/dev/null 2>&1 & watcher=$!\n"
    "exec 3<&-\n"
    '/bin/sh -c "$1"; status=$?\n'
    'kill -KILL "$watcher" 2>/dev/null\n'
    'exit "$status"\n'
)


def command_workdir(job: JobConfig) -> Path:
    return Path(job.workdir).expanduser() if job.workdir else Path.cwd()


def command_environ(job: JobConfig) -> dict[str, str]:
    """The job's environment: minimal, plus what its `env` names (never the tokens)."""
    return child_environment(job.env)


def run_command_job(ctx: RunContext) -> JobOutcome:
    job = ctx.spec.source
    assert isinstance(job, JobConfig), "a command job comes from a [[jobs]] entry"
    try:
        environ = command_environ(job)
    except ChildEnvError as exc:
        return JobOutcome(status="failed", error=str(exc))
    lifeline, held = os.pipe()  # `held` stays open in opsdesk only, until the job ends
    try:
        process = subprocess.Popen(
            ["/bin/sh", "-c", GUARDED, "opsdesk-job", job.command],
            cwd=command_workdir(job),
            env=environ,
            stdin=lifeline,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        os.close(held)
        return JobOutcome(status="failed", error=f"could not start the command: {exc}")
    finally:
        os.close(lifeline)
    try:
        return _outcome(ctx, job, process)
    finally:
        os.close(held)


def _outcome(ctx: RunContext, job: JobConfig, process: subprocess.Popen[bytes]) -> JobOutcome:
    timeout = job.timeout.total_seconds()
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
