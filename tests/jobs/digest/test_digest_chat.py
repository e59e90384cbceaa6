"""/digest in the terminal chat and `opsdesk digest` as a user runs them."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.console import Console
from handlers.catalog import build_router
from jobs.config.schema import Config
from storage.db import make_engine
from tests.support.cli import opsdesk
from tests.support.context import jobs_context
from tests.support.files import assert_png
from tests.support.rows import add_build_history

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


def test_the_digest_renders_in_the_terminal_chat(sqlite_engine: Engine, tmp_path: Path) -> None:
    """The console's part: the title as a header, the chart saved as a file and named
    in the text. What /digest answers is tested at the router (tests/handlers)."""
    add_build_history(sqlite_engine, NOW)
    context = jobs_context(sqlite_engine, Config(), data_dir=tmp_path)
    context.clock = lambda: NOW
    out = io.StringIO()
    console = Console(build_router(context), out, tmp_path / "images")

    console.say("/digest")
    console.say("/digest week")
    console.say("/digest month")

    text = out.getvalue()
    assert "== Daily digest, Fri 20 Mar: 1 to look at ==" in text
    assert "🐢 build got slower: 1m 40s typical, was 40.0s" in text
    assert "== Weekly digest" in text
    assert "[image: Last 14 days to Fri 20 Mar" in text
    assert_png((tmp_path / "images" / "digest-2026-03-20.png").read_bytes())
    assert "Usage: /digest [day|week]" in text


def test_opsdesk_digest_prints_json_and_writes_the_chart(tmp_path: Path) -> None:
    assert opsdesk("db", "upgrade", cwd=tmp_path).returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'opsdesk.db'}")
    add_build_history(engine, datetime.now(UTC))
    engine.dispose()

    result = opsdesk("digest", "--period", "week", "--json", "--png", "chart.png", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)
    assert digest["period"] == "week"
    assert digest["caching"]["cache_hits"] == 14
    assert_png((tmp_path / "chart.png").read_bytes())
    text = opsdesk("digest", cwd=tmp_path)
    assert text.returncode == 0
    assert "== Daily digest" in text.stdout


def test_opsdesk_digest_on_an_empty_database_is_honest(tmp_path: Path) -> None:
    result = opsdesk("digest", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No runs in this day." in result.stdout
