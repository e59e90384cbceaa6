"""/usage at the router: the month by repository and model with money and the
forecast, one repository's week, and arguments it does not know refused with the
usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from handlers.access import CONSOLE_CALLER
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import BudgetConfig, Config, ModelPrice, RepoConfig
from tests.support.context import jobs_context
from tests.support.rows import add_reviews, add_runs, review_run

NOW = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)
CONFIG = Config(
    repos=[RepoConfig(name="api", path="/srv/api"), RepoConfig(name="web", path="/srv/web")],
    models={"big": ModelPrice(input_per_million=3, output_per_million=15)},
)


def router(engine: Engine) -> Router:
    (stored,) = add_reviews(
        engine, {"repo": "web", "model": "big", "prompt_tokens": 4000, "completion_tokens": 500}
    )
    big = {"model": "big"}
    add_runs(
        engine,
        [
            *(
                review_run(
                    "api",
                    datetime(2026, 12, d, 9, tzinfo=UTC),
                    **big,
                    tokens_in=90_000,
                    tokens_out=10_000,
                )
                for d in range(1, 11)
            ),
            review_run(
                "web",
                NOW - timedelta(days=1),
                **big,
                tokens_in=4000,
                tokens_out=500,
                review_id=stored,
            ),
            review_run("web", NOW - timedelta(hours=1), **big, status="cached", review_id=stored),
            review_run("web", NOW - timedelta(hours=2)),  # a lint review
        ],
    )
    return build_router(jobs_context(engine, CONFIG, clock=lambda: NOW))


def text_of(reply: object) -> str:
    return "\n".join(block.text for block in reply.blocks)  # type: ignore[attr-defined]


def test_the_months_usage_by_repository_and_model_with_money(engine: Engine) -> None:
    reply = router(engine).handle(CONSOLE_CALLER, "/usage")

    assert reply.status == "ok"
    assert reply.title == "Usage this month"
    text = text_of(reply)
    assert (
        "Since 2026-12-01 00:00 UTC: 1M tokens (904k in, 100.5k out, 4.22 USD) in 11 model "
        "runs; 12 reviews made, 1 cache hit saved 4.5k tokens, 0.0195 USD." in text
    )
    assert "api         900k  100k    10       10     0      0" in text
    assert "web           4k   500     1        2     1   4.5k" in text
    assert "big      904k  100.5k    11       11     1   4.5k" in text
    assert "linters     0       0     0        1     0      0" in text
    assert "everything: on track for" in text
    assert "api: on track for 3.1M tokens by Dec 31 (100k a day)" in text


def test_one_repositorys_week(engine: Engine) -> None:
    reply = router(engine).handle(CONSOLE_CALLER, "/usage web week")

    assert reply.title == "Usage of web this week"
    text = text_of(reply)
    assert text.startswith("Since 2026-12-07 00:00 UTC: 4.5k tokens (4k in, 500 out,")
    assert "api" not in text


def test_a_quiet_period_says_so(engine: Engine) -> None:
    quiet = build_router(jobs_context(engine, CONFIG, clock=lambda: NOW))
    reply = quiet.handle(CONSOLE_CALLER, "/usage day api")
    assert [b.text for b in reply.blocks] == ["Since 2026-12-10 00:00 UTC: no review ran of api."]


def test_unknown_arguments_are_refused_with_the_usage(engine: Engine) -> None:
    usage = router(engine)
    unknown = usage.handle(CONSOLE_CALLER, "/usage nope")
    twice = usage.handle(CONSOLE_CALLER, "/usage week month")
    assert unknown.status == "error" and unknown.private
    assert [b.text for b in unknown.blocks] == [
        "No repository named 'nope' (known: api, web).",
        "Usage: /usage [repo] [day|week|month]",
    ]
    assert twice.blocks[0].text == "'month' is one argument too many."


def test_the_forecast_is_against_each_budget(engine: Engine) -> None:
    budgets = CONFIG.model_copy(
        update={
            "budget": BudgetConfig.model_validate({"repos": {"api": {"monthly_tokens": 2_000_000}}})
        }
    )
    router(engine)
    reply = build_router(jobs_context(engine, budgets, clock=lambda: NOW)).handle(
        CONSOLE_CALLER, "/usage api"
    )
    assert reply.blocks[-1].text == (
        "Month-end forecast:\n"
        "api: on track for 3.1M of 2M tokens by Dec 31 — over from about Dec 20"
    )
