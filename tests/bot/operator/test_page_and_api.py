"""/api/digest is the CLI's digest object; the page shows its figures, with or
without the charts extra."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.digest.job import build_digest
from storage import migrate
from storage.db import make_engine
from storage.models import utcnow
from tests.bot.operator.conftest import operator_server
from tests.support.context import jobs_context
from tests.support.rows import add_runs, run_row

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def history(engine: Engine, now: datetime = NOW) -> None:
    """A day with a clean job, a failing one, cached runs and a model; a baseline
    fortnight before it so time saved and regressions have something to compare."""
    rows = []
    for day in range(1, 15):
        at = now - timedelta(days=day, hours=3)
        rows.append(run_row("build", at, 10.0))
        rows.append(run_row("lint-api", at, 4.0))
    for hour in range(8):
        at = now - timedelta(hours=hour + 1)
        rows.append(run_row("build", at, 30.0))  # three times slower: a regression
        rows.append(run_row("lint-api", at, 4.0, status="cached" if hour else "ok",
                            cache_hit=bool(hour)))  # fmt: skip
        rows.append(run_row("deploy-check", at, 2.0, status="failed" if hour < 3 else "ok"))
    add_runs(engine, rows)
    add_runs(
        engine,
        [
            run_row(
                "review-api",
                now - timedelta(hours=h + 1),
                20.0,
                kind="review",
                model="<b>qwen</b>",
                tokens_in=1000,
                tokens_out=250,
                model_latency_ms=12000,
            )
            for h in range(4)
        ],
    )


async def test_api_digest_is_the_digest_object(engine: Engine) -> None:
    history(engine)
    config = Config()
    async with operator_server(engine, config, clock=lambda: NOW) as running:
        day = (await running.client.get("/api/digest")).json()
        week = (await running.client.get("/api/digest", params={"period": "week"})).json()
    assert day == json.loads(
        build_digest(jobs_context(engine, config), "day", NOW).model_dump_json()
    )
    assert week == json.loads(
        build_digest(jobs_context(engine, config), "week", NOW).model_dump_json()
    )
    assert day["runs"] == 28 and week["period"] == "week"


def test_api_digest_matches_opsdesk_digest_json(tmp_path: Path) -> None:
    """The CLI's `--json` and the endpoint print the same object (times aside: each
    is computed at its own `now`)."""
    import asyncio

    url = f"sqlite:///{tmp_path / 'data' / 'opsdesk.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    history(engine, now=utcnow())
    printed = subprocess.run(
        [sys.executable, "-m", "bot.cli", "digest", "--period", "week", "--json"],
        capture_output=True, text=True, check=True, timeout=120,
        env={"OPSDESK_DATABASE_URL": url, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip

    async def served() -> dict[str, object]:
        async with operator_server(engine) as running:
            answer = await running.client.get("/api/digest", params={"period": "week"})
            return dict(answer.json())

    from_api = asyncio.run(served())
    from_cli = json.loads(printed.stdout)
    engine.dispose()
    for moving in ("start", "end", "summary"):
        from_api.pop(moving)
        from_cli.pop(moving)
    assert from_api == from_cli
    assert from_api["runs"] == 28 + 2 * 6  # the day's runs and six days of baseline


async def test_the_page_shows_the_digest_figures(engine: Engine) -> None:
    history(engine)
    async with operator_server(engine, clock=lambda: NOW) as running:
        answer = await running.client.get("/")
        chart = await running.client.get("/chart.png")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    page = answer.text
    assert "Key insights" in page and "Model performance" in page
    assert "build" in page and "deploy-check" in page and "lint-api" in page
    assert "62%" in page  # deploy-check: 5 of 8 ok
    assert "88%" in page  # lint-api: 7 cache hits of 8 runs
    assert "&lt;b&gt;qwen&lt;/b&gt;" in page and "<b>qwen</b>" not in page
    assert '<img class="chart" src="chart.png?period=day"' in page
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")


async def test_without_the_charts_extra_the_page_is_tables_only(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(engine)
    # What an install without matplotlib looks like to an import.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    async with operator_server(engine, clock=lambda: NOW) as running:
        page = (await running.client.get("/")).text
        chart = await running.client.get("/chart.png")
    assert "<img" not in page
    assert "Jobs: success and duration" in page and "deploy-check" in page
    assert chart.status_code == 404
    assert "charts extra" in chart.text
