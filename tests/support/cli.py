"""Running `opsdesk` as a user does: a real process, this interpreter, this checkout."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout: pyproject.toml, manifest.yml
# Secrets as a deployment would set them, to show they never leak.
TOKENS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-SlackBotSecretValue",
    "SLACK_APP_TOKEN": "xapp-1-A0-SlackAppSecretValue",
    "SLACK_SIGNING_SECRET": "slacksigningsecret0123456789",
    "TELEGRAM_BOT_TOKEN": "123456:TelegramTokenSecretValueAbC",
    "OPSDESK_LLM_API_KEY": "sk-LlmKeySecretValue0123456789abcdef",
}

# Makes the named top-level packages unimportable in the process it runs in, exactly
# as if they were not installed: the import system (and importlib.util.find_spec)
# raises ModuleNotFoundError for them. Then runs the opsdesk CLI with the arguments.
BLOCKED_RUN = """
import sys

class NotInstalled:
    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

blocked, args = sys.argv[1].split(","), sys.argv[2:]
sys.meta_path.insert(0, NotInstalled(blocked))
sys.argv = ["opsdesk", *args]
from bot.cli import entry
entry()
"""


def opsdesk(
    *args: str,
    cwd: Path | None = None,
    blocked: tuple[str, ...] = (),
    stdin: str = "",
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`opsdesk ARGS` in a subprocess; `blocked` packages behave as not installed."""
    if blocked:
        command = [sys.executable, "-c", BLOCKED_RUN, ",".join(blocked), *args]
    else:
        command = [sys.executable, "-m", "bot.cli", *args]
    return subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )


def opsdesk_with_config(
    config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`opsdesk ARGS` with OPSDESK_CONFIG naming the test's config file."""
    return opsdesk(*args, env={"OPSDESK_CONFIG": str(config), **(env or {})}, timeout=timeout)


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    max_rss_mb: float  # the process's peak resident memory, or its children's (git, linters)
    cpu_s: float = 0.0  # CPU time (user + system) of the process and the children it waited for


# Runs `python ARGS` and writes the peak RSS of that process and everything it waited
# for (wait4's figure) to the file descriptor it is given. A small process in between
# because Linux counts in a child's peak the memory of the process it was forked from
# (the pytest process, hundreds of MB in a full run): this one's is a few MB.
MEASURED_RUN = """
import os, subprocess, sys
report, args = int(sys.argv[1]), sys.argv[2:]
child = subprocess.Popen([sys.executable, *args])
_pid, status, usage = os.wait4(child.pid, 0)
os.write(report, f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}".encode())
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def opsdesk_measured(config: Path, *args: str, stdin: str = "", timeout: float = 180) -> Measured:
    """`opsdesk ARGS` as a child process whose peak memory and CPU time are taken from
    the kernel when it is reaped (`wait4`: the largest peak of it and every child it
    waited for; their CPU time added up)."""
    env = {**os.environ, "OPSDESK_CONFIG": str(config)}
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", MEASURED_RUN, str(write_end), "-m", "bot.cli", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=ROOT, env=env, pass_fds=(write_end,), start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(write_end)
    with process, os.fdopen(read_end, "rb") as figure:
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:  # opsdesk too, not only the process measuring it
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
        peak_kib, cpu_s = (figure.read().decode() or "0 0").split()
    return Measured(process.returncode, stdout, stderr, int(peak_kib) / 1024, float(cpu_s))


@contextlib.contextmanager
def opsdesk_running(config: Path, env: dict[str, str] | None = None) -> Iterator[Running]:
    """`opsdesk run --config CONFIG` until the block ends (then SIGTERM), once it has
    logged its start line; the operator page's address is read from that line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stderr is not None
    running = Running(process, None, [])
    try:
        started = False
        while not started:  # `opsdesk run` says it started, or ends: either comes
            line = process.stderr.readline()
            if not line:
                break
            running.log.append(line)
            started = " started: " in line
            found = re.search(r"operator page (http://\S+?/);", line)
            running.page = found.group(1) if started and found else running.page
        assert started, "".join(running.log)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            running.log += process.communicate(timeout=60)[1].splitlines(keepends=True)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def port_in(text: str, saying: str) -> int | None:
    """The port of the first `SAYING HOST:PORT` in `text` (log lines), or None."""
    found = re.search(rf"{re.escape(saying)} \S+:(\d+)\b", text)
    return int(found.group(1)) if found else None


@dataclass
class Running:
    process: subprocess.Popen[str]
    page: str | None  # the operator page's URL, "http://127.0.0.1:PORT/"
    log: list[str]

    def logged_port(self, saying: str) -> int:
        """The port a listener configured with port 0 got, from its `SAYING HOST:PORT`
        line: read on until that line comes (the process ending first fails)."""
        assert self.process.stderr is not None
        port = port_in("".join(self.log), saying)
        while port is None:
            line = self.process.stderr.readline()
            assert line, f"no {saying!r} line:\n{''.join(self.log)}"
            self.log.append(line)
            port = port_in(line, saying)
        return port
