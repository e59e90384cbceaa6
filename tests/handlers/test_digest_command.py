"""/digest at the router: the day and the week from the run rows, the week with its
chart, and a period it does not know refused with the usage."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from handlers.access import CONSOLE_CALLER
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from tests.support.context import jobs_context
from tests.support.files import assert_png
from tests.support.rows import add_build_history, add_runs, daily_model_reviews

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


def router(engine: Engine) -> Router:
    add_build_history(engine, NOW)
    return build_router(jobs_context(engine, Config(), clock=lambda: NOW))


def test_the_days_digest_gives_its_figures_and_the_regression(engine: Engine) -> None:
    day = router(engine).handle(CONSOLE_CALLER, "/digest")
    assert day.status == "ok"
    assert day.title == "Daily digest, Fri 20 Mar: 1 to look at"
    story, figures, jobs = (b.text for b in day.blocks)
    assert story == "🐢 build got slower: 1m 40s typical, was 40.0s"
    assert figures == "Runs: 4, 0 failed · 50% from cache, 1m 18s saved by caching"
    assert jobs == "Jobs:\n  build: 4 runs, 1m 40s typical (+150%)"


def test_the_weeks_digest_carries_its_chart(engine: Engine) -> None:
    week = router(engine).handle(CONSOLE_CALLER, "/digest week")
    assert week.status == "ok" and week.title.startswith("Weekly digest")
    assert week.image is not None
    assert week.image.title == "Last 14 days to Fri 20 Mar"
    assert week.image.filename == "digest-2026-03-20.png"
    assert_png(week.image.png)


def test_an_unknown_period_is_refused_with_the_usage(engine: Engine) -> None:
    month = router(engine).handle(CONSOLE_CALLER, "/digest month")
    assert month.status == "error" and month.private
    assert [b.text for b in month.blocks] == [
        "Unknown period 'month': use day or week.",
        "Usage: /digest [day|week]",
    ]


def test_the_digest_ends_with_the_months_budgets_and_forecast(engine: Engine) -> None:
    """A review of api a day at 9:00 since the 1st, 100k tokens each."""
    now = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)
    add_runs(engine, daily_model_reviews("api", range(1, 11), hour=9))
    config = Config.model_validate(
        {
            "repos": [{"name": "api", "path": "/srv/api"}],
            "budget": {"repos": {"api": {"monthly_tokens": 2_000_000, "on_exhausted": "lint"}}},
        }
    )
    digest = build_router(jobs_context(engine, config, clock=lambda: now)).handle(
        CONSOLE_CALLER, "/digest"
    )

    assert digest.blocks[-1].text == (
        "Model usage this month:\napi: 1M of 2M tokens (50%); on track for 3.1M of 2M tokens "
        "by Dec 31 — over from about Dec 20; at 100%: lint"
    )
