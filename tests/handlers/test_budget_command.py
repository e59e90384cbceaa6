"""/budget at the router: where each budget stands with its forecast, an admin's raise
recorded with who made it, and what viewers and bad amounts are told."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from handlers.access import CONSOLE_CALLER, Caller
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from storage.models import BudgetRaise
from tests.support.context import jobs_context
from tests.support.rows import add_runs, daily_model_reviews

NOW = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)
VIEWER = Caller(platform="slack", user_id="UVIEW", chat_id="C1")
CONFIG = Config.model_validate(
    {
        "repos": [{"name": "api", "path": "/srv/api"}, {"name": "web", "path": "/srv/web"}],
        "models": {"big": {"input_per_million": 3, "output_per_million": 15}},
        "access": {"viewers": ["slack:UVIEW"]},
        "budget": {
            "monthly_cost": 50,
            "repos": {"api": {"monthly_tokens": 2_000_000, "on_exhausted": "pause"}},
        },
    }
)


def router(engine: Engine, config: Config = CONFIG) -> Router:
    """api: 100k tokens a day since Dec 1, at 9:00."""
    add_runs(engine, daily_model_reviews("api", range(1, 11), hour=9))
    return build_router(jobs_context(engine, config, clock=lambda: NOW))


def test_every_budget_with_its_month_and_forecast(engine: Engine) -> None:
    reply = router(engine).handle(VIEWER, "/budget")

    assert reply.status == "ok" and reply.title == "Budgets this month"
    assert reply.blocks[0].text.split("\n") == [
        "api: 1M of 2M tokens (50%); on track for 3.1M of 2M tokens by Dec 31 — over from "
        "about Dec 20; at 100%: pause",
        "All repositories: 4.20 USD of 50.00 USD (8%); at 100%: alert",
    ]


def test_an_admin_raises_a_budget_for_this_month_on_the_record(engine: Engine) -> None:
    budgets = router(engine)

    raised = budgets.handle(CONSOLE_CALLER, "/budget api +2M")
    money = budgets.handle(CONSOLE_CALLER, "/budget all +10USD")

    assert raised.blocks[0].text == (
        "Budget of api for December raised by 2M tokens by console: 1M of 4M tokens (25%)."
    )
    assert money.blocks[0].text.startswith(
        "Budget of All repositories for December raised by 10.00 USD"
    )
    with engine.connect() as connection:
        rows = connection.execute(select(BudgetRaise.__table__)).all()  # type: ignore[attr-defined]
    assert [(r.scope, r.month, r.tokens, r.cost, r.raised_by) for r in rows] == [
        ("api", "2026-12", 2_000_000, 0.0, "console:local"),
        ("all", "2026-12", 0, 10.0, "console:local"),
    ]
    assert "1M of 4M tokens (25%)" in budgets.handle(VIEWER, "/budget api").blocks[0].text


def test_viewers_look_and_bad_raises_are_refused_with_the_usage(engine: Engine) -> None:
    budgets = router(engine)
    cases = {
        "/budget api +2M": "Only an admin may raise a budget; viewers may look: /budget.",
        "/budget nope": "No budget for 'nope' (budgets: all, api).",
        "/budget api 2M": "'2M' is not a raise: write +2M, +500k or +25USD.",
        "/budget api +2Q": "'+2Q': the unit is k, M or B tokens, or USD.",
        "/budget api +5USD": "api has no monthly_cost budget to raise.",
    }
    for line, error in cases.items():
        reply = budgets.handle(VIEWER if line == "/budget api +2M" else CONSOLE_CALLER, line)
        assert reply.status == "error", line
        assert [b.text for b in reply.blocks] == [error, "Usage: /budget [repo|all] [+AMOUNT]"]


def test_without_budgets_it_says_where_to_set_one(engine: Engine) -> None:
    reply = router(engine, Config()).handle(CONSOLE_CALLER, "/budget")
    assert reply.blocks[0].text == "No budget is configured: see [budget] in the README."
