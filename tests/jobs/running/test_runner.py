"""Runs of command jobs: recorded with the right status, cached by their inputs,
batched, and found abandoned after a crash."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.render_text import render_text
from jobs.config.schema import Config
from jobs.core.processes import this_runner
from jobs.core.reply import Reply
from jobs.review.git import ensure_clone
from jobs.running.result_cache import CacheInputError, git_head
from jobs.running.runner import run_batch, run_job
from jobs.runs import records as runs
from jobs.runs.baseline import baseline_ms
from jobs.runs.specs import find_job
from storage.db import session_scope
from storage.models import JobRun, OutboxPost, utcnow
from tests.support.clock import TravelClock
from tests.support.context import jobs_context
from tests.support.waiting import wait_for_exit


def config_with(jobs: list[dict[str, object]], **extra: object) -> Config:
    return Config.model_validate({"jobs": jobs, **extra})


def run_named(
    engine: Engine, config: Config, name: str, clock: TravelClock | None = None
) -> JobRun:
    spec = find_job(config, name)
    assert spec is not None
    fields = {"clock": clock} if clock is not None else {}
    return run_job(jobs_context(engine, config, **fields), spec, "manual")


def test_runs_are_recorded_as_ok_failed_and_timeout(engine: Engine) -> None:
    config = config_with(
        [
            {"name": "hello", "command": "echo hello; echo world"},
            {"name": "broken", "command": "echo about to fail; exit 3"},
            {"name": "slow", "command": "sleep 60", "timeout": "1s"},
        ]
    )
    ok = run_named(engine, config, "hello")
    failed = run_named(engine, config, "broken")
    timed_out = run_named(engine, config, "slow")

    assert (ok.status, ok.output, ok.error) == ("ok", "hello\nworld\n", None)
    assert ok.trigger == "manual" and ok.kind == "command"
    assert ok.finished_at is not None and ok.duration_ms is not None
    assert failed.status == "failed"
    assert failed.error == "exit status 3: about to fail"
    assert (timed_out.status, timed_out.error) == ("timeout", "timed out after 1.0s; killed")
    # Killed at the timeout: not before it, and not when the command would have ended.
    assert 900 <= (timed_out.duration_ms or 0) < 60_000
    assert [r.status for r in runs.runs_of(engine)] == ["ok", "failed", "timeout"]


def test_timeout_kills_the_whole_process_group(tmp_path: Path, sqlite_engine: Engine) -> None:
    engine = sqlite_engine  # process handling, not storage: one database is enough
    marker, child = tmp_path / "survivor", tmp_path / "child.pid"
    command = f"sh -c 'echo $$ > {child}; sleep 2; touch {marker}' & sleep 5"
    config = config_with([{"name": "forks", "command": command, "timeout": "1s"}])
    assert run_named(engine, config, "forks").status == "timeout"
    wait_for_exit(int(child.read_text()))  # it ends either way: killed, or after `touch`
    assert not marker.exists(), "the background child was killed with its shell"


def test_command_gets_its_workdir_and_environment(tmp_path: Path, engine: Engine) -> None:
    config = config_with(
        [
            {
                "name": "env",
                "command": "pwd; echo $GREETING",
                "workdir": str(tmp_path),
                "env": {"GREETING": "hi"},
            }
        ]
    )
    run = run_named(engine, config, "env")
    assert run.output == f"{tmp_path}\nhi\n"


def test_unchanged_inputs_are_a_cache_hit_and_a_change_runs_again(
    tmp_path: Path, engine: Engine
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("one")
    counter = tmp_path / "executions"
    command = f"echo ran >> {counter}; cat notes/*.md"
    config = config_with(
        [
            {
                "name": "brief",
                "command": command,
                "workdir": str(tmp_path),
                "cache": {"inputs": ["file:notes/*.md", "day"], "ttl": "1h"},
            }
        ]
    )
    first = run_named(engine, config, "brief")
    second = run_named(engine, config, "brief")
    (notes / "a.md").write_text("two")
    third = run_named(engine, config, "brief")

    assert (first.status, first.cache_hit) == ("ok", False)
    assert (second.status, second.cache_hit) == ("cached", True)
    assert second.output == "one" and second.cache_key == first.cache_key
    assert (third.status, third.output) == ("ok", "two")
    assert third.cache_key != first.cache_key
    assert counter.read_text().count("ran") == 2, "the cached run did not execute the command"
    assert baseline_ms(engine, "brief") is not None


def test_git_head_is_a_cache_input(tmp_path: Path, engine: Engine) -> None:
    repo = tmp_path / "repo"
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    config = config_with(
        [{"name": "lint", "command": "echo linted", "cache": {"inputs": ["git:api"]}}],
        repos=[{"name": "api", "path": str(repo)}],
    )
    assert run_named(engine, config, "lint").status == "ok"
    assert run_named(engine, config, "lint").status == "cached"
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "two"], check=True)
    assert run_named(engine, config, "lint").status == "ok"


def test_a_remote_repositorys_clone_is_the_git_input(tmp_path: Path, sqlite_engine: Engine) -> None:
    source = tmp_path / "source"
    git = ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(source)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    config = Config.model_validate({"repos": [{"name": "remote", "url": str(source)}]})
    data_dir = tmp_path / "data"
    context = jobs_context(sqlite_engine, config, data_dir)
    with pytest.raises(CacheInputError, match="git:remote"):
        git_head(context, "remote")  # not cloned yet: a clear error
    ensure_clone(str(source), data_dir / "repos" / "remote.git")  # as a review clones it
    assert git_head(context, "remote") == head.strip()


def test_expired_ttl_runs_again(engine: Engine) -> None:
    config = config_with([{"name": "t", "command": "echo x", "cache": {"ttl": "1s"}}])
    clock = TravelClock()
    assert run_named(engine, config, "t", clock).status == "ok"
    clock.advance(seconds=0.9)
    assert run_named(engine, config, "t", clock).status == "cached"
    clock.advance(seconds=0.2)
    assert run_named(engine, config, "t", clock).status == "ok"


def test_a_failed_run_is_not_reused(engine: Engine) -> None:
    config = config_with([{"name": "flaky", "command": "exit 1", "cache": {"ttl": "1h"}}])
    assert run_named(engine, config, "flaky").status == "failed"
    assert run_named(engine, config, "flaky").status == "failed"


def test_a_batch_runs_every_member_and_posts_once(engine: Engine) -> None:
    config = config_with(
        [
            {"name": "one", "command": "echo one", "batch": "morning", "post_to": ["log:"]},
            {"name": "two", "command": "echo two; exit 1", "batch": "morning"},
            {"name": "three", "command": "echo three", "batch": "morning"},
        ],
        batches=[
            {"name": "morning", "schedule": "every 1h", "post_to": ["slack:C1"], "concurrency": 2}
        ],
    )
    result = run_batch(jobs_context(engine, config), "morning")

    assert sorted((r.job, r.status) for r in result.runs) == [
        ("one", "ok"),
        ("three", "ok"),
        ("two", "failed"),
    ]
    assert {r.batch_id for r in result.runs} == {result.batch_id}
    assert {r.trigger for r in result.runs} == {"batch"}
    with Session(engine) as session:
        posts = session.exec(select(OutboxPost)).all()
    assert [(p.kind, p.target) for p in posts] == [("batch", "slack:C1")]
    assert "2/3 ok" in posts[0].reply_json


def test_a_crashed_process_leaves_its_run_abandoned(tmp_path: Path, engine: Engine) -> None:
    # A real process starts a run and dies without finishing it.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = this_runner().rpartition(":")[0]
    crashed = runs.start_run(
        engine,
        job="nightly",
        kind="command",
        trigger="schedule",
        runner=f"{host}:{dead.stdout.strip()}",
    )
    alive = runs.start_run(
        engine, job="other", kind="command", trigger="manual", runner=f"{host}:1"
    )  # pid 1 is alive: left alone
    abandoned = runs.mark_abandoned(engine, this_runner())

    assert abandoned == [crashed.id]
    statuses = {r.id: r.status for r in runs.runs_of(engine)}
    assert statuses == {crashed.id: "abandoned", alive.id: "running"}
    # Finishing late does not overwrite the verdict.
    assert crashed.id is not None
    assert not runs.finish_run(engine, crashed.id, status="ok")


def test_a_post_per_finished_run_is_enqueued_once(engine: Engine) -> None:
    config = config_with([{"name": "p", "command": "echo hi", "post_to": ["log:", "slack:C1"]}])
    run = run_named(engine, config, "p")
    with Session(engine) as session:
        posts = session.exec(select(OutboxPost)).all()
    assert sorted(p.target for p in posts) == ["log:", "slack:C1"]
    assert all(p.dedupe_key.startswith(f"run:{run.id}|") for p in posts)


def test_the_baseline_is_the_digests_median_of_recent_real_runs(engine: Engine) -> None:
    now = utcnow()

    def add(duration_ms: int, days_ago: float, status: str = "ok") -> None:
        with session_scope(engine) as session:
            session.add(
                JobRun(job="brief", kind="command", trigger="schedule", status=status,
                       cache_hit=status == "cached", duration_ms=duration_ms,
                       started_at=now - timedelta(days=days_ago))
            )  # fmt: skip

    for duration_ms, days_ago in ((1000, 1), (2000, 2), (3000, 13)):
        add(duration_ms, days_ago)
    add(10, 1, status="cached")  # a cache hit saves time, it is not the baseline
    add(50_000, 1, status="failed")
    add(99_000, 20)  # older than the 14-day window
    assert baseline_ms(engine, "brief", now=now) == 2000
    assert baseline_ms(engine, "other", now=now) is None


def test_a_failures_post_leads_with_its_cause_said_once(sqlite_engine: Engine) -> None:
    """What a phone shows first is why it failed: the exit status, then the output's
    tail (its last line not repeated in the error), then one line of small print."""
    config = config_with(
        [{"name": "sync", "command": "echo 'rsync: connection refused' >&2; exit 12",
          "post_to": ["slack:C1"]}]
    )  # fmt: skip
    run_named(sqlite_engine, config, "sync")
    with Session(sqlite_engine) as session:
        post = session.exec(select(OutboxPost)).one()
    reply = Reply.model_validate_json(post.reply_json)
    assert reply.title == "❌ sync: failed"
    assert [block.text for block in reply.blocks] == ["exit status 12", "rsync: connection refused"]
    assert reply.fields == []
    assert reply.note.startswith("run #1 by hand · ")
    text = render_text(reply)[0]
    assert text.count("connection refused") == 1
