"""How light opsdesk is to install, start and keep running, measured in one run.

    .venv/bin/python bench/footprint.py [--keep DIR]

1. `pip install .` and `pip install '.[all]'`, each into a fresh virtual environment
   (pip's cache as this machine has it: warm after the development install): the
   install time and the environment's size on disk.
2. `opsdesk --help` wall time against `python3 -c pass` (median of 15 each).
3. Idle RSS of `opsdesk run`: console-only (the base install, no chat adapter) and
   with Slack (Socket Mode) and Telegram (polling) pointed at the tests' local
   stand-ins (the `[all]` install), each before and after the daily digest with its
   chart: the bench sets `[digest] time` to the next minute and waits for the post.

Prints every figure with its target and exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.standins.slack_api import SlackApi  # noqa: E402
from tests.standins.telegram_api import TOKEN as TELEGRAM_TOKEN  # noqa: E402
from tests.standins.telegram_api import TelegramApi  # noqa: E402

TARGET_BASE_MB = 120.0
TARGET_BASE_INSTALL_S = 30.0
TARGET_HELP_S = 0.2
TARGET_RSS_CONSOLE_MB = 64.0
TARGET_RSS_ADAPTERS_MB = 100.0
MB = 1024 * 1024


@dataclass
class Install:
    spec: str
    seconds: float
    size_mb: float
    packages: int
    venv: Path


def install(spec: str, venv: Path) -> Install:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.perf_counter()
    done = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", spec],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pip install {spec!r} failed:\n{done.stderr[-3000:]}")
    listed = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format=freeze", "--exclude", "pip"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return Install(spec, seconds, dir_size(venv) / MB, len(listed), venv)


def dir_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def median_wall(command: list[str], repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def digest_minute() -> datetime:
    """The next whole minute at least 20 s away: when the daily digest fires."""
    return (datetime.now(UTC) + timedelta(seconds=80)).replace(second=0, microsecond=0)


def write_config(where: Path, fire: datetime, post_to: list[str], chats: bool) -> Path:
    """The operator server (on by default) on a port the system picks: the start line,
    which the bench prints, names its page."""
    config = where / "opsdesk.toml"
    text = f"""
data_dir = "{where / "data"}"

[operator]
listen = "127.0.0.1:0"

[[jobs]]
name = "tick"
command = "echo tick"
schedule = "every 5s"

[digest]
time = "{fire:%H:%M}"
timezone = "UTC"
post_to = {post_to!r}
"""
    if chats:
        text += '\n[slack]\nenabled = true\nmode = "socket"\n\n[telegram]\nenabled = true\n'
    config.write_text(text.replace("'", '"'))
    return config


@dataclass
class Idle:
    name: str
    before_mb: float
    after_mb: float
    start_line: str


async def idle_rss(
    name: str, opsdesk: Path, config: Path, env: dict[str, str], posted: asyncio.Event | None
) -> Idle:
    """Start `opsdesk run`, measure RSS when idle, wait for the digest, measure again."""
    process = await asyncio.create_subprocess_exec(
        str(opsdesk),
        "run",
        "--config",
        str(config),
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    lines: list[str] = []
    digest_logged = asyncio.Event()
    started = asyncio.Event()

    async def read() -> None:
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            if " started: " in line:
                started.set()
            if "daily digest for" in line:
                digest_logged.set()

    reader = asyncio.create_task(read())
    try:
        await asyncio.wait_for(started.wait(), timeout=60)
        await asyncio.sleep(5)  # settle: first heartbeats, first ticks
        before = rss_mb(process.pid)
        await asyncio.wait_for(digest_logged.wait(), timeout=150)
        if posted is not None:
            await asyncio.wait_for(posted.wait(), timeout=60)
        await asyncio.sleep(5)
        after = rss_mb(process.pid)
    except TimeoutError:
        log = "\n".join(lines)
        raise RuntimeError(f"{name}: no start line or digest; its log:\n{log}") from None
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=60)
        reader.cancel()
    start_line = next(line for line in lines if " started: " in line)
    return Idle(name, before, after, start_line.split(": ", 1)[1])


async def measure_runs(base: Path, full: Path, work: Path) -> list[Idle]:
    fire = digest_minute()
    slack, telegram = SlackApi(), TelegramApi()
    await slack.start()
    await telegram.start()
    try:
        console_dir = work / "console"
        chats_dir = work / "chats"
        console_dir.mkdir()
        chats_dir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
        chat_env = {
            **env,
            "SLACK_BOT_TOKEN": "xoxb-bench-token",
            "SLACK_APP_TOKEN": "xapp-bench-token",
            "SLACK_API_URL": slack.base_url + "api/",
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
        }
        chats_posted = asyncio.Event()

        async def watch_posts() -> None:
            while not (slack.ok_calls("upload") and telegram.called("sendPhoto")):
                await asyncio.sleep(0.2)
            chats_posted.set()

        watcher = asyncio.create_task(watch_posts())
        console = idle_rss(
            "console only",
            base / "bin" / "opsdesk",
            write_config(console_dir, fire, ["log:digest"], chats=False),
            env,
            None,
        )
        chats = idle_rss(
            "Slack + Telegram",
            full / "bin" / "opsdesk",
            write_config(chats_dir, fire, ["slack:C0001", "telegram:42"], chats=True),
            chat_env,
            chats_posted,
        )
        print(f"  waiting for the daily digest at {fire:%H:%M:%S} UTC ...", flush=True)
        results = list(await asyncio.gather(console, chats))
        watcher.cancel()
        return results
    finally:
        await slack.stop()
        await telegram.stop()


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def report_idle(base: Path, full: Path, work: Path) -> int:
    """Print the idle RSS figures; returns how many targets were missed."""
    missed = 0
    print("== idle RSS of opsdesk run", flush=True)
    for found_idle in asyncio.run(measure_runs(base, full, work)):
        target = (
            TARGET_RSS_CONSOLE_MB if found_idle.name == "console only" else TARGET_RSS_ADAPTERS_MB
        )
        # The target is the idle process's; after a digest it also holds the digest's
        # modules and data, printed beside it.
        print(
            f"  {found_idle.name}: {found_idle.before_mb:.1f} MB idle "
            f"(target <= {target:.0f}: {verdict(found_idle.before_mb, target)}), "
            f"{found_idle.after_mb:.1f} MB after a digest with chart"
        )
        print(f"    start line: {found_idle.start_line}")
        missed += found_idle.before_mb > target
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", metavar="DIR", help="build the venvs in DIR and keep them")
    parser.add_argument(
        "--rss-only",
        action="store_true",
        help="only the idle RSS figures, with this interpreter's environment for both "
        "runs (quick, while working on memory; the full run is what the README records)",
    )
    args = parser.parse_args()
    if args.rss_only:
        scratch = Path(tempfile.mkdtemp(prefix="opsdesk-footprint-"))
        try:
            missed = report_idle(Path(sys.prefix), Path(sys.prefix), scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print("all targets met" if not missed else f"{missed} target(s) missed")
        return 1 if missed else 0
    work = Path(args.keep or tempfile.mkdtemp(prefix="opsdesk-footprint-"))
    work.mkdir(parents=True, exist_ok=True)
    missed = 0
    try:
        print("== install (fresh virtual environments, warm pip cache)", flush=True)
        base = install(".", work / "venv-base")
        full = install(".[all]", work / "venv-all")
        for found in (base, full):
            print(
                f"  pip install '{found.spec}': {found.seconds:5.1f} s, "
                f"{found.size_mb:6.1f} MB, {found.packages} packages"
            )
        print(
            f"  base: {base.size_mb:.1f} MB (target <= {TARGET_BASE_MB:.0f}: "
            f"{verdict(base.size_mb, TARGET_BASE_MB)}), {base.seconds:.1f} s "
            f"(target <= {TARGET_BASE_INSTALL_S:.0f}: "
            f"{verdict(base.seconds, TARGET_BASE_INSTALL_S)})"
        )
        missed += base.size_mb > TARGET_BASE_MB
        missed += base.seconds > TARGET_BASE_INSTALL_S

        print("== start-up", flush=True)
        python = str(base.venv / "bin" / "python")
        bare = median_wall([python, "-c", "pass"])
        helped = median_wall([str(base.venv / "bin" / "opsdesk"), "--help"])
        print(
            f"  python3 -c pass {bare * 1000:.0f} ms; opsdesk --help {helped * 1000:.0f} ms "
            f"= {helped / bare:.1f}x (target <= {TARGET_HELP_S * 1000:.0f} ms: "
            f"{verdict(helped, TARGET_HELP_S)})"
        )
        missed += helped > TARGET_HELP_S

        missed += report_idle(base.venv, full.venv, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("all targets met" if not missed else f"{missed} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
