"""Usage is the sum of the review run rows, on SQLite and PostgreSQL: tokens, runs that
called the model, reviews made, cache hits and the cost of the reviews they replayed;
and `opsdesk usage --json` prints the same figures."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from jobs.config.schema import Config, ModelPrice
from jobs.usage.report import usage_report
from storage.db import make_engine
from tests.support.cli import opsdesk
from tests.support.context import jobs_context
from tests.support.rows import add_reviews, add_runs, run_row

NOW = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)
MONTH_START = datetime(2026, 12, 1, tzinfo=UTC)


def history(engine: Engine, now: datetime, seed: int = 7) -> list[dict[str, Any]]:
    """Forty days of review runs of two repositories by two models (fresh, cached,
    failed after spending), plus runs usage must not count: a command job's, and one
    in the future. Returns the rows written."""
    chooser = random.Random(seed)
    api_review, web_review = add_reviews(
        engine,
        {"repo": "api", "model": "big", "prompt_tokens": 5000, "completion_tokens": 700},
        {"repo": "web", "model": "small", "prompt_tokens": 1200, "completion_tokens": 90},
    )
    rows = []
    for hour in range(40 * 24 - 1, 0, -7):
        at = now - timedelta(hours=hour, minutes=chooser.randrange(60))
        repo, model, review = chooser.choice(
            [("api", "big", api_review), ("web", "small", web_review)]
        )
        status = chooser.choice(["ok", "ok", "cached", "failed"])
        hit = status == "cached"
        spent = not hit and chooser.random() < 0.9
        rows.append(
            run_row(
                f"review:{repo}",
                at,
                3,
                kind="review",
                status=status,
                cache_hit=hit,
                model=model if status != "failed" or spent else None,
                review_id=review if status != "failed" else None,
                tokens_in=chooser.randrange(100, 9000) if spent else None,
                tokens_out=chooser.randrange(10, 900) if spent else None,
            )
        )
    columns = {"model": "big", "review_id": None, "tokens_out": 9}
    rows.append(run_row("build", now - timedelta(hours=2), 5, tokens_in=999, **columns))
    future = now + timedelta(hours=1)
    rows.append(run_row("review:api", future, 1, kind="review", tokens_in=10**6, **columns))
    add_runs(engine, rows)
    return rows


def expected(rows: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, Any]:
    """The figures, summed in Python from the rows as written."""
    saved = {"review:api": (5000, 700), "review:web": (1200, 90)}
    total = dict.fromkeys(
        ("tokens_in", "tokens_out", "calls", "reviews", "cache_hits", "saved_in", "saved_out"), 0
    )
    for row in rows:
        if row["kind"] != "review" or not start <= row["started_at"] <= end:
            continue
        tokens_in, tokens_out = row.get("tokens_in") or 0, row.get("tokens_out") or 0
        total["tokens_in"] += tokens_in
        total["tokens_out"] += tokens_out
        total["calls"] += bool(tokens_in or tokens_out)
        total["reviews"] += row["status"] == "ok" and not row["cache_hit"]
        if row["cache_hit"]:
            total["cache_hits"] += 1
            total["saved_in"] += saved[row["job"]][0]
            total["saved_out"] += saved[row["job"]][1]
    return total


def test_usage_is_the_sum_of_the_run_rows(engine: Engine) -> None:
    rows = history(engine, NOW)
    config = Config(
        models={
            "big": ModelPrice(input_per_million=3, output_per_million=15),
            "small": ModelPrice(input_per_million=0.15, output_per_million=0.6),
        }
    )
    context = jobs_context(engine, config, clock=lambda: NOW)

    month = usage_report(context, "month").to_json()
    week = usage_report(context, "week").to_json()

    assert month["total"] == expected(rows, MONTH_START, NOW)
    monday = datetime(2026, 12, 7, tzinfo=UTC)
    assert week["total"] == expected(rows, monday, NOW)
    api_only = [r for r in rows if r["job"] == "review:api"]
    assert month["by_repo"]["api"] == expected(api_only, MONTH_START, NOW)
    assert month["by_model"]["big"] == month["by_repo"]["api"]
    big, small = month["by_model"]["big"], month["by_model"]["small"]
    spent = (big["tokens_in"] * 3 + big["tokens_out"] * 15) / 1e6 + (
        small["tokens_in"] * 0.15 + small["tokens_out"] * 0.6
    ) / 1e6
    saved = (big["saved_in"] * 3 + big["saved_out"] * 15) / 1e6 + (
        small["saved_in"] * 0.15 + small["saved_out"] * 0.6
    ) / 1e6
    assert month["money"]["spent"] == round(spent, 6)
    assert month["money"]["saved"] == round(saved, 6)
    assert month["money"]["currency"] == "USD"


def test_one_repositorys_usage_leaves_the_others_out(engine: Engine) -> None:
    rows = history(engine, NOW, seed=11)
    context = jobs_context(engine, Config(), clock=lambda: NOW)

    web = usage_report(context, "month", "web").to_json()

    web_rows = [r for r in rows if r["job"] == "review:web"]
    assert web["total"] == expected(web_rows, MONTH_START, NOW)
    assert list(web["by_repo"]) == ["web"]
    assert web["money"] is None  # no prices: tokens only
    assert [f["scope"] for f in web["forecast"]] == ["web"]


def test_opsdesk_usage_prints_the_figures_as_json_and_text(tmp_path: Path) -> None:
    assert opsdesk("db", "upgrade", cwd=tmp_path).returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'opsdesk.db'}")
    now = datetime.now(UTC)
    rows = history(engine, now)
    engine.dispose()
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        '[[repos]]\nname = "api"\npath = "."\n[[repos]]\nname = "web"\npath = "."\n'
        '[models."big"]\ninput_per_million = 3\noutput_per_million = 15\n'
    )

    result = opsdesk("usage", "--period", "day", "--json", cwd=tmp_path)
    text = opsdesk("usage", "api", cwd=tmp_path)
    unknown = opsdesk("usage", "nope", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    day = json.loads(result.stdout)
    start = datetime.fromisoformat(day["start"])
    assert day["total"] == expected(rows, start, datetime.fromisoformat(day["end"]))
    assert day["money"]["unpriced_models"] in ([], ["small"])
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("== Usage of api this month ==")
    assert unknown.returncode == 2
    assert "No repository named 'nope' (known: api, web)." in unknown.stderr
