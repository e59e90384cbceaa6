"""A month of scheduled model reviews of two repositories, on the real engine, runner
and outbox, with the model stand-in reporting `usage` and time moved by hand.

A per-repository budget: crossing 80% and then 100% posts exactly one alert each, the
second in the first one's thread; at 100% `on_exhausted` decides — `pause` refuses
the model and the scheduled run says why, `lint` has the linters review instead,
`alert` goes on — and an admin's raise from chat resumes the paused repository."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from handlers.access import Caller
from handlers.catalog import build_router
from jobs.config.schema import Config
from jobs.context import Context
from jobs.review.history import load_review
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from storage.models import JobRun, OutboxPost
from tests.standins.model_server import ModelServer
from tests.support.clock import TravelClock
from tests.support.context import jobs_context
from tests.support.git_repo import Repo

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
ANSWER_TOKENS = 10_000  # every answer reports this many completion tokens
BUDGET = 100_000  # api's monthly tokens: about ten reviews
ADMIN = Caller(platform="slack", user_id="UADMIN", chat_id="C1", name="Dana")


def make_repo(tmp_path: Path, name: str) -> Repo:
    repo = Repo(tmp_path / name)
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.commit("start", **{"app.py": "VALUE_000 = 0\n"})
    return repo


def month_config(
    api: Repo, web: Repo, server: ModelServer, policy: str, post_to: tuple[str, ...]
) -> Config:
    llm = {"base_url": server.url, "model": "tiny", "timeout_s": 5, "max_retries": 0}
    return Config.model_validate(
        {
            "repos": [
                {"name": "api", "path": str(api.path), "schedule": "0 2 * * *"},
                {"name": "web", "path": str(web.path), "schedule": "0 2 * * *"},
            ],
            "reviewer": {"default": "llm", "llm": llm, "lint": {"select": ["F"]}},
            "access": {"admins": ["slack:UADMIN"]},
            "budget": {
                "post_to": list(post_to),
                "repos": {"api": {"monthly_tokens": BUDGET, "on_exhausted": policy}},
            },
        }
    )


class Month:
    """Scheduled reviews day by day, through the runner, as `opsdesk run` fires them."""

    def __init__(
        self,
        engine: Engine,
        tmp_path: Path,
        server: ModelServer,
        policy: str,
        post_to: tuple[str, ...] = ("slack:C1",),
    ) -> None:
        server.completion_tokens = ANSWER_TOKENS
        self.server = server
        self.repos = {name: make_repo(tmp_path, name) for name in ("api", "web")}
        self.clock = TravelClock(START)
        config = month_config(self.repos["api"], self.repos["web"], server, policy, post_to)
        self.context: Context = jobs_context(
            engine, config, tmp_path / "data", clock=self.clock, runner_id="test:1"
        )
        self.day = 0

    def next_day(self) -> dict[str, JobRun]:
        """One commit in each repository and their scheduled reviews; the run rows."""
        self.day += 1
        finished = {}
        for name, repo in self.repos.items():
            n = self.day
            repo.commit(f"day {n}", **{"app.py": f"VALUE_{n:03d} = {n}\n"})
            spec = find_job(self.context.config, f"review:{name}")
            assert spec is not None
            finished[name] = run_job(self.context, spec, "schedule")
        self.clock.advance(days=1)
        return finished

    def model_calls(self) -> int:
        return sum(1 for r in self.server.received if r.path.endswith("/chat/completions"))

    def alerts(self, target: str = "slack:C1") -> list[OutboxPost]:
        """The budget alerts written to the outbox for `target`, oldest first."""
        query = (
            select(OutboxPost)
            .where(OutboxPost.kind == "alert", OutboxPost.target == target)
            .order_by(OutboxPost.id)  # type: ignore[arg-type]
        )
        with self.context.engine.connect() as connection:
            return [OutboxPost.model_validate(row._mapping) for row in connection.execute(query)]

    def tokens_of(self, rows: list[JobRun]) -> int:
        return sum((r.tokens_in or 0) + (r.tokens_out or 0) for r in rows)


def titles(posts: list[OutboxPost]) -> list[str]:
    return [json.loads(p.reply_json)["title"] for p in posts]


def run_until_spent(month: Month) -> tuple[list[JobRun], int, int]:
    """Days until api's reviews spent its budget; api's runs, and the days after which
    the 80% and the 100% alerts appeared (each exactly when the run rows crossed)."""
    api_runs: list[JobRun] = []
    day_80 = day_100 = 0
    while not day_100:
        runs = month.next_day()
        api_runs.append(runs["api"])
        assert runs["api"].status == "ok" and runs["web"].status == "ok"
        spent = month.tokens_of(api_runs)
        posted = titles(month.alerts())
        if spent >= 0.8 * BUDGET and not day_80:
            day_80 = month.day
        if spent >= BUDGET:
            day_100 = month.day
        expected = (["Model budget of api: 80% used"] if day_80 else []) + (
            ["Model budget of api: spent"] if day_100 else []
        )
        if day_80 == day_100 == month.day:  # both crossed at once: one alert, the higher
            expected = ["Model budget of api: spent"]
        assert posted == expected, (month.day, spent)
        assert month.day < 25
    return api_runs, day_80, day_100


def test_a_month_crosses_80_then_100_percent_once_each_in_one_thread_then_pauses(
    engine: Engine, tmp_path: Path, model_server: ModelServer
) -> None:
    month = Month(engine, tmp_path, model_server, "pause")

    _, day_80, day_100 = run_until_spent(month)
    assert day_80 < day_100  # ten reviews of about 10k: 80% first, then 100%
    first, second = month.alerts()
    assert first.thread_key is None and first.target == "slack:C1"
    assert second.thread_key == first.dedupe_key  # the follow-up answers in its thread
    assert "api has used" in first.reply_json and "of 100k tokens this month" in first.reply_json
    assert "Model reviews are paused until Jan 1" in second.reply_json

    calls = month.model_calls()
    paused = month.next_day()
    assert paused["api"].status == "failed"
    assert paused["api"].error is not None
    assert paused["api"].error.startswith("model reviews of api are paused: its monthly budget (")
    assert "is spent, until Jan 1, or until an admin raises it: /budget api +100k" in (
        paused["api"].error
    )
    assert paused["web"].status == "ok"  # web has no budget: its review called the model
    assert month.model_calls() == calls + 1
    assert len(month.alerts()) == 2  # nothing repeated within the month

    raised = build_router(month.context).handle(ADMIN, "/budget api +100k")
    assert raised.status == "ok", raised
    assert raised.blocks[0].text.startswith(
        "Budget of api for December raised by 100k tokens by Dana: "
    )
    assert raised.blocks[0].text.endswith("Model reviews resume.")
    follow_up = month.alerts()[-1]
    assert follow_up.thread_key == first.dedupe_key
    resumed = month.next_day()
    assert resumed["api"].status == "ok" and (resumed["api"].tokens_out or 0) >= ANSWER_TOKENS


def test_the_lint_policy_has_the_linters_review_instead(
    sqlite_engine: Engine, tmp_path: Path, model_server: ModelServer
) -> None:
    month = Month(sqlite_engine, tmp_path, model_server, "lint")
    run_until_spent(month)
    calls = month.model_calls()

    fallback = month.next_day()["api"]

    assert fallback.status == "ok" and fallback.model is None and not fallback.tokens_in
    assert month.model_calls() == calls + 1  # web's review only
    assert fallback.review_id is not None
    stored = load_review(sqlite_engine, fallback.review_id)
    assert stored is not None and stored.row["reviewer_kind"] == "lint"
    assert any(n.startswith("reviewed by the linters instead of the model:") for n in stored.notes)


def test_the_alert_policy_goes_on(
    sqlite_engine: Engine, tmp_path: Path, model_server: ModelServer
) -> None:
    month = Month(sqlite_engine, tmp_path, model_server, "alert")
    run_until_spent(month)
    calls = month.model_calls()

    over = month.next_day()["api"]

    assert over.status == "ok" and (over.tokens_out or 0) >= ANSWER_TOKENS
    assert month.model_calls() == calls + 2
    assert titles(month.alerts())[-1] == "Model budget of api: spent"
    assert len(month.alerts()) == 2


def test_a_review_that_would_pass_the_ceiling_on_its_own_meets_the_policy(
    sqlite_engine: Engine, tmp_path: Path, model_server: ModelServer
) -> None:
    month = Month(sqlite_engine, tmp_path, model_server, "pause")
    config: dict[str, Any] = month.context.config.model_dump()
    config["budget"]["repos"]["api"]["monthly_tokens"] = 20  # less than any prompt
    month.context.config = Config.model_validate(config)

    runs = month.next_day()

    assert runs["api"].status == "failed" and runs["api"].error is not None
    assert "would be passed by this review alone (" in runs["api"].error
    assert month.model_calls() == 1  # web's
