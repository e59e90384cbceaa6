"""The month-end forecast for a steady rate is the arithmetic: used so far plus the
trailing days' rate times the days left, and the day the budget runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.usage.forecast import forecast, trailing_span
from jobs.usage.replies import forecast_line
from jobs.usage.report import month_forecasts
from tests.support.context import jobs_context
from tests.support.rows import add_runs, review_run

NOW = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)
MONTH_END = datetime(2027, 1, 1, tzinfo=UTC)


def test_a_steady_rate_projects_to_the_arithmetic() -> None:
    result = forecast(
        "api",
        used=1_000_000,
        trailing=700_000,
        span=timedelta(days=7),
        now=NOW,
        month_end=MONTH_END,
        budget=2_000_000,
    )
    days_left = 21.25  # Dec 10 18:00 to Jan 1 00:00
    assert result.rate_per_day == 100_000
    assert result.projected == 1_000_000 + 100_000 * days_left
    assert result.over_from == NOW + timedelta(days=10)
    assert forecast_line(result, "UTC") == (
        "api: on track for 3.1M of 2M tokens by Dec 31 — over from about Dec 20"
    )


def test_under_budget_and_spent_budgets_say_so() -> None:
    under = forecast(
        "web", used=10, trailing=0, span=timedelta(days=7), now=NOW, month_end=MONTH_END, budget=50
    )
    spent = forecast(
        "web", used=60, trailing=7, span=timedelta(days=7), now=NOW, month_end=MONTH_END, budget=50
    )
    assert (under.projected, under.over_from, under.over) == (10, None, False)
    assert forecast_line(under, "UTC") == "web: on track for 10 of 50 tokens by Dec 31 (0 a day)"
    assert spent.exhausted and spent.over_from is None
    assert forecast_line(spent, "UTC").endswith("— over already (60 used)")


def test_the_rate_of_a_young_deployment_is_taken_since_its_first_review() -> None:
    assert trailing_span(NOW, None) == timedelta(days=7)
    assert trailing_span(NOW, NOW - timedelta(days=3)) == timedelta(days=3)
    assert trailing_span(NOW, NOW - timedelta(hours=2)) == timedelta(days=1)


def test_the_forecast_from_run_rows_of_a_steady_rate(engine: Engine) -> None:
    """A review a day at noon, 100k tokens each, since Dec 1: ten so far."""
    add_runs(
        engine,
        [
            review_run(
                "api",
                datetime(2026, 12, day, 12, tzinfo=UTC),
                model="big",
                tokens_in=90_000,
                tokens_out=10_000,
            )
            for day in range(1, 11)
        ],
    )
    context = jobs_context(engine, Config(), clock=lambda: NOW)
    budgets = {"api": 2_000_000}
    with engine.connect() as connection:
        everything, api = month_forecasts(context, connection, NOW, budget_of=budgets.get)

    assert (everything.scope, everything.budget) == ("all", None)
    assert api.used == 1_000_000
    assert api.rate_per_day == 100_000  # Dec 4..10 in the trailing 7 days
    assert api.projected == 3_125_000
    assert api.over_from == datetime(2026, 12, 20, 18, 0, tzinfo=UTC)
