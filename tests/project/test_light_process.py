"""What keeps `opsdesk run` light: Alembic, matplotlib and the chat libraries stay
out of the long-running process unless it needs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from jobs.digest import chart
from storage import migrate, migration_process
from tests.support.cli import ROOT

RUN_THEN_LIST_MODULES = """
import asyncio, sys
from bot.runtime import run_forever
from jobs.config.loading import load_settings

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(2.0, stop.set)
    await run_forever(load_settings(sys.argv[1]), stop=stop, shutdown_grace=1.0)

asyncio.run(main())
print(" ".join(sorted(sys.modules)))
"""


def probe(script: str, config: Path) -> str:
    """What `script`, run in a fresh interpreter with the config's path, prints."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_revisions_read_from_the_files_are_alembics(tmp_path: Path) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert migrate.head_revision() == script.get_current_head()
    assert set(migrate.revisions()) == {r.revision for r in script.walk_revisions()}


def test_opsdesk_run_migrates_a_new_database_loading_only_what_its_jobs_need(
    tmp_path: Path,
) -> None:
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n[digest]\npost_to = ["log:digest"]\n'
        '[operator]\nlisten = "127.0.0.1:0"   # any free port: 8787 may be taken\n'
    )
    modules = probe(RUN_THEN_LIST_MODULES, config).split()
    loaded = {name.split(".")[0] for name in modules}
    assert "sqlalchemy" in loaded  # the probe saw the process's modules
    assert loaded.isdisjoint({"alembic", "mako", "matplotlib", "slack_bolt", "telegram", "httpx"})
    # No repository to review, no chat to ask: the review engine stays unloaded too.
    engine_parts = {
        "jobs.review.engine",
        "jobs.review.store",
        "jobs.review.lint.reviewer",
        "handlers.review",
    }
    assert engine_parts.isdisjoint(modules)
    from storage.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'opsdesk.db'}")
    try:
        assert migrate.status(engine).is_current  # the child process did migrate it
    finally:
        engine.dispose()


FROZEN_WHILE_RUNNING = """
import asyncio, gc, sys
from bot.runtime import run_forever
from jobs.config.loading import load_settings

async def main():
    stop, counts = asyncio.Event(), []
    freeze = gc.freeze

    def freeze_and_stop():  # the runtime freezes once started: look, then stop it
        freeze()
        counts.append(gc.get_freeze_count())
        stop.set()

    gc.freeze = freeze_and_stop
    await run_forever(load_settings(sys.argv[1]), stop=stop, shutdown_grace=1.0)
    print(counts[0], gc.get_freeze_count())

asyncio.run(main())
"""


def test_what_start_up_made_is_out_of_the_collectors_sight_until_opsdesk_stops(
    tmp_path: Path,
) -> None:
    """A full collection of the start-up heap held the GIL 65-80 ms: frozen once
    started, given back to the collector when the process stops serving."""
    config = tmp_path / "opsdesk.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[operator]\nenabled = false\n')
    while_running, after = map(int, probe(FROZEN_WHILE_RUNNING, config).split())
    assert while_running > 20_000  # the modules, classes and tables of the frame
    assert after == 0


def test_the_chart_and_migration_processes_get_no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = {
        "SLACK_BOT_TOKEN": "xoxb-not-for-workers",
        "TELEGRAM_BOT_TOKEN": "123:not-for-workers",
        "OPSDESK_LLM_API_KEY": "sk-not-for-workers",
    }
    for name, value in tokens.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PGSSLMODE", "require")
    url = "postgresql://opsdesk:pw@db/opsdesk"
    for env in (chart.worker_env(), migration_process.migration_env(url)):
        assert set(env.values()).isdisjoint(tokens.values())
        assert "PATH" in env and "PYTHONPATH" in env
    assert migration_process.migration_env(url)["PGSSLMODE"] == "require"


ARENA_PROBE = """
import os
from bot.malloc_arenas import limit_malloc_arenas

print(limit_malloc_arenas(), "MALLOC_ARENA_MAX" in os.environ)
"""


def _arena_probe(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", ARENA_PROBE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_opsdesk_run_caps_its_malloc_arenas_without_touching_the_environment() -> None:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    try:
        glibc = bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):
        glibc = False
    # Set on glibc; the children it starts inherit no MALLOC_ARENA_MAX from it.
    assert _arena_probe(env) == f"{glibc} False"
    # The operator's own MALLOC_ARENA_MAX wins: opsdesk leaves it be.
    assert _arena_probe({**env, "MALLOC_ARENA_MAX": "4"}) == "False True"
