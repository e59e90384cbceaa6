"""/metrics' model usage, budget and forecast series, checked against the run rows and
the forecast's arithmetic; and deploy/grafana-dashboard.json names only series that
/metrics serves."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from tests.bot.operator.conftest import operator_server
from tests.bot.operator.test_metrics import parse, value
from tests.support.cli import ROOT
from tests.support.rows import add_reviews, add_runs, daily_model_reviews, review_run

NOW = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)
CONFIG = Config.model_validate(
    {
        "repos": [{"name": "api", "path": "/srv/api"}, {"name": "web", "path": "/srv/web"}],
        "models": {"big": {"input_per_million": 3, "output_per_million": 15}},
        "budget": {"monthly_tokens": 5_000_000, "repos": {"api": {"monthly_tokens": 2_000_000}}},
    }
)


def history(engine: Engine) -> None:
    """api: 100k tokens a day at noon since Dec 1; web: one cache hit of a 4.5k review."""
    (stored,) = add_reviews(
        engine, {"repo": "web", "model": "big", "prompt_tokens": 4000, "completion_tokens": 500}
    )
    add_runs(
        engine,
        [
            *daily_model_reviews("api", range(1, 11), hour=12),
            review_run("web", NOW, model="big", status="cached", review_id=stored),
            review_run("api", datetime(2026, 11, 30, tzinfo=UTC), model="big", tokens_in=7),
        ],
    )  # fmt: skip


async def test_usage_budget_and_forecast_series_are_the_run_rows(engine: Engine) -> None:
    history(engine)
    async with operator_server(engine, CONFIG, clock=lambda: NOW) as running:
        samples = parse((await running.client.get("/metrics")).text)

    assert value(samples, "opsdesk_model_month_tokens", repo="api", type="prompt") == 900_000
    assert value(samples, "opsdesk_model_month_tokens", repo="api", type="completion") == 100_000
    assert value(samples, "opsdesk_model_month_tokens", repo="web", type="prompt") == 0
    assert value(samples, "opsdesk_model_month_saved_tokens", repo="web") == 4500
    assert value(samples, "opsdesk_model_month_cost", repo="api") == 4.2
    # 1M used + 100k a day (the trailing 7 days) for the 21.25 days left
    assert value(samples, "opsdesk_model_month_end_forecast_tokens", scope="api") == 3_125_000
    assert value(samples, "opsdesk_budget_month_tokens", scope="api") == 2_000_000
    assert value(samples, "opsdesk_budget_used_ratio", scope="api") == 0.5
    assert value(samples, "opsdesk_budget_used_ratio", scope="all") == 0.2
    labels = {dict(key[1]).get("repo") for key in samples if key[0].startswith("opsdesk_model")}
    assert labels <= {"api", "web", None}  # configured repositories only


async def test_every_series_the_grafana_dashboard_plots_is_served(engine: Engine) -> None:
    history(engine)
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    named = {name for expr in exprs for name in re.findall(r"\bopsdesk_[a-z_]+", expr)}
    assert len(exprs) >= 6 and "opsdesk_model_month_end_forecast_tokens" in named

    async with operator_server(engine, CONFIG, clock=lambda: NOW) as running:
        served = {key[0] for key in parse((await running.client.get("/metrics")).text)}

    assert named <= served, sorted(named - served)


async def test_the_page_shows_each_budget_and_its_forecast(engine: Engine) -> None:
    history(engine)
    async with operator_server(engine, CONFIG, clock=lambda: NOW) as running:
        page = (await running.client.get("/")).text

    assert '<section id="budget"><h2>Model usage this month</h2>' in page
    assert (
        "<li>api: 1M of 2M tokens (50%); on track for 3.1M of 2M tokens by Dec 31 — over "
        "from about Dec 20; at 100%: alert</li>"
    ) in page
    assert "<li>All repositories: 1M of 5M tokens (20%); on track for" in page
