"""A night's work on 1, 2 and 3 `opsdesk run` replicas sharing one PostgreSQL
database, then again on 3 with one replica killed -9 in the middle.

    OPSDESK_TEST_POSTGRES_URL=postgresql://… .venv/bin/python bench/scale.py
    … bench/scale.py --replicas 1,2,3 --commands 60 --reviews 20 --wait 3 --workers 6

The night: `--commands` command jobs that each wait `--wait` seconds (I/O-bound, like
waiting on a model) and `--reviews` lint reviews of small real git repositories, all
due at once (an `every` schedule: every one's first fire comes at the same moment, the
interval after the scheduler starts). Each round gets a fresh schema, so no review is
a cache hit of an earlier round. Printed per round, each on a line that names it: wall
time from the fire to the last run's end and its ratio to one replica, each replica's
share of the runs, runs lost (a fire with no finished row), runs completed twice,
posts made twice (two posts for one fire). The killed round kills the replica running
the most runs once half the night has ended.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.engine import Engine

from jobs.runs import records as runs
from storage import migrate
from storage.db import make_engine
from storage.models import JobRun
from tests.support.databases import fresh_schema_url
from tests.support.git_repo import GIT_ENV
from tests.support.processes import OpsdeskProcess

DONE = ("ok", "failed", "timeout", "cached")
GIVEN_UP = ("interrupted", "abandoned")
SOURCE = """import os, sys


def handler(event, unused):
    value = eval(event["x"])
    try:
        return os.path.join("a", value)
    except:
        pass
"""


def make_repos(directory: Path, count: int) -> list[Path]:
    """`count` small git repositories with Python ruff has findings in."""
    made = []
    env = {**os.environ, **GIT_ENV}
    for number in range(count):
        path = directory / f"repo-{number:02d}"
        (path / "pkg").mkdir(parents=True)
        for module in range(8):
            (path / "pkg" / f"m{module}.py").write_text(SOURCE + f"\nNUMBER = {number}\n")
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
            subprocess.run(["git", "-C", str(path), *args], check=True, env=env)
        made.append(path)
    return made


def night_config(
    directory: Path, name: str, url: str, args: argparse.Namespace, repos: list[Path]
) -> Path:
    every = f"every {args.interval}s"
    lines = [
        f'database_url = "{url}"',
        f'data_dir = "{directory / name}"',
        "[operator]\nenabled = false",
        f'[scheduler]\nheartbeat = "2s"\nshutdown_grace = "2s"\nworkers = {args.workers}',
    ]
    for number in range(args.commands):
        lines.append(
            f'[[jobs]]\nname = "wait-{number:02d}"\ncommand = "sleep {args.wait}"\n'
            f'schedule = "{every}"\npost_to = ["log:"]'
        )
    for number, path in enumerate(repos):
        lines.append(
            f'[[repos]]\nname = "repo-{number:02d}"\npath = "{path}"\nbranch = "main"\n'
            f'schedule = "{every}"\nreviewer = "lint"\npost_to = ["log:"]'
        )
    config = directory / f"{name}.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


@dataclass
class Round:
    replicas: int
    killed: bool
    wall_s: float
    shares: dict[str, int]
    fires: int
    lost: int
    twice: int
    posts_twice: int
    given_up: int
    rerun: int


def first_wave(rows: list[JobRun]) -> dict[str, list[JobRun]]:
    """Each job's runs of its first fire (the night), keyed by job."""
    first: dict[str, datetime] = {}
    for row in rows:
        if row.scheduled_at is not None and row.status != "missed":
            first[row.job] = min(first.get(row.job, row.scheduled_at), row.scheduled_at)
    night: dict[str, list[JobRun]] = collections.defaultdict(list)
    for row in rows:
        if row.scheduled_at is not None and row.scheduled_at == first.get(row.job):
            night[row.job].append(row)
    return night


def ended(night: dict[str, list[JobRun]], jobs: int) -> bool:
    """Every fire has a finished run (a run of a killed replica, closed interrupted
    or abandoned, is waited past: it may be run again elsewhere)."""
    return len(night) == jobs and all(
        any(r.status in DONE for r in rows) for rows in night.values()
    )


def posts_per_fire(engine: Engine, night: dict[str, list[JobRun]]) -> int:
    """Fires whose runs made more than one post."""
    with engine.connect() as connection:
        keys = [row[0] for row in connection.execute(text("SELECT dedupe_key FROM outbox"))]
    per_run = collections.Counter(key.split("|")[0] for key in keys)
    return sum(1 for rows in night.values() if sum(per_run[f"run:{row.id}"] for row in rows) > 1)


def run_round(
    server_url: str, replicas: int, kill: bool, args: argparse.Namespace, repos: list[Path]
) -> Round:
    jobs = args.commands + args.reviews
    with tempfile.TemporaryDirectory() as scratch, fresh_schema_url(server_url) as url:
        directory = Path(scratch)
        engine = make_engine(url)
        migrate.upgrade(engine)
        names = [f"r{number}" for number in range(1, replicas + 1)]
        processes = [
            OpsdeskProcess(night_config(directory, name, url, args, repos)) for name in names
        ]
        killed_runner = None
        try:
            for process in processes:
                process.wait_for(" started: ", timeout=120)
            runner_of = {
                f"{os.uname().nodename}:{p.pid}": n for p, n in zip(processes, names, strict=True)
            }
            deadline = time.monotonic() + args.interval + args.timeout
            last_progress, still_since = (0, 0), time.monotonic()
            while time.monotonic() < deadline:
                night = first_wave(runs.runs_of(engine))
                finished = sum(1 for rows in night.values() if any(r.status in DONE for r in rows))
                if kill and killed_runner is None and finished >= jobs // 2:
                    busy = collections.Counter(
                        r.runner for rows in night.values() for r in rows if r.status == "running"
                    )
                    killed_runner = busy.most_common(1)[0][0] if busy else None
                    for process in processes:
                        if f"{os.uname().nodename}:{process.pid}" == killed_runner:
                            os.kill(process.pid, signal.SIGKILL)
                            print(f"  killed -9 {runner_of[killed_runner]} ({finished} ended)")
                if ended(night, jobs):
                    break
                progress = (finished, sum(len(rows) for rows in night.values()))
                if progress != last_progress:
                    last_progress, still_since = progress, time.monotonic()
                elif killed_runner and time.monotonic() - still_since > args.settle:
                    break  # what the killed replica held or awaited is not coming back
                time.sleep(0.5)
        finally:
            for process in processes:
                if process.process.poll() is None:
                    process.stop(60)
        night = first_wave(runs.runs_of(engine))
        starts = [r.queued_at or r.started_at for rows in night.values() for r in rows]
        ends = [r.finished_at for rows in night.values() for r in rows if r.finished_at]
        shares = collections.Counter(
            runner_of.get(r.runner or "", "?")
            for rows in night.values()
            for r in rows
            if r.status in DONE
        )
        result = Round(
            replicas=replicas,
            killed=kill,
            wall_s=(max(ends) - min(starts)).total_seconds() if ends else float("nan"),
            shares={name: shares.get(name, 0) for name in names},
            fires=len(night),
            lost=jobs
            - sum(1 for rows in night.values() if any(r.status in DONE + GIVEN_UP for r in rows)),
            twice=sum(1 for rows in night.values() if sum(r.status in DONE for r in rows) > 1),
            posts_twice=posts_per_fire(engine, night),
            given_up=sum(
                1
                for rows in night.values()
                if not any(r.status in DONE for r in rows)
                and any(r.status in GIVEN_UP for r in rows)
            ),
            rerun=sum(
                1
                for rows in night.values()
                if any(r.status in DONE for r in rows) and any(r.status in GIVEN_UP for r in rows)
            ),
        )
        engine.dispose()
    return result


def report(result: Round, baseline: float | None) -> list[str]:
    """Prints the round's lines; returns the targets it missed."""
    label = f"{result.replicas} replica{'s' if result.replicas > 1 else ''}"
    if result.killed:
        label += ", one killed -9"
    ratio = f"ratio {result.wall_s / baseline:.2f}" if baseline else "ratio 1.00"
    total = sum(result.shares.values()) or 1
    shares = ", ".join(f"{n} {100 * c / total:.0f}%" for n, c in result.shares.items())
    print(f"{label}: {ratio} (wall {result.wall_s:.1f} s)")
    print(f"{label}: shares {shares}")
    print(
        f"{label}: runs lost {result.lost}, completed twice {result.twice}, "
        f"posts twice {result.posts_twice}, closed by the kill and run again {result.rerun}, "
        f"only closed {result.given_up} (of {result.fires} fires)"
    )
    missed = [
        f"{label}: {what} {value} (target 0)"
        for what, value in (
            ("runs lost", result.lost),
            ("completed twice", result.twice),
            ("posts twice", result.posts_twice),
        )
        if value
    ]
    if not result.killed:
        missed += [
            f"{label}: {name}'s share {100 * count / total:.0f}% (target >= 20%)"
            for name, count in result.shares.items()
            if result.replicas > 1 and count / total < 0.2
        ]
        if result.replicas == 3 and baseline and result.wall_s / baseline > 0.45:
            missed.append(f"{label}: ratio {result.wall_s / baseline:.2f} (target <= 0.45)")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--commands", type=int, default=60)
    parser.add_argument("--reviews", type=int, default=20)
    parser.add_argument("--wait", type=float, default=3.0, help="seconds each command waits")
    parser.add_argument("--workers", type=int, default=6, help="[scheduler] workers")
    parser.add_argument("--interval", type=int, default=30, help="seconds to the night's fire")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--settle", type=float, default=15.0, help="after the kill: seconds without progress"
    )
    parser.add_argument("--no-kill", action="store_true")
    args = parser.parse_args()
    server_url = os.environ.get("OPSDESK_TEST_POSTGRES_URL")
    if not server_url:
        print("set OPSDESK_TEST_POSTGRES_URL to a PostgreSQL server on this machine")
        return 2
    counts = [int(n) for n in args.replicas.split(",")]
    print(
        f"night: {args.commands} command jobs waiting {args.wait:g} s + {args.reviews} lint "
        f"reviews, all due at once; workers {args.workers} per replica"
    )
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        repos = make_repos(Path(scratch), args.reviews)
        baseline = None
        for count in counts:
            result = run_round(server_url, count, False, args, repos)
            baseline = baseline or result.wall_s
            missed += report(result, baseline if count > 1 else None)
        if not args.no_kill:
            missed += report(run_round(server_url, max(counts), True, args, repos), baseline)
    for line in missed:
        print(f"MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
