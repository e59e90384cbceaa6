"""Reviews through the real engine, on a real repository and database: the
configuration helpers the review tests share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.review.engine import ReviewResult, run_review
from tests.standins.model_server import ModelServer
from tests.support.context import jobs_context
from tests.support.git_repo import Repo


def config_for(work: Repo, **reviewer: Any) -> Config:
    """Config with repo "demo"; lint selects pyflakes (F) unless told otherwise."""
    reviewer.setdefault("lint", {"select": ["F"]})
    return Config.model_validate(
        {"repos": [{"name": "demo", "path": str(work.path)}], "reviewer": reviewer}
    )


def llm_config(work: Repo, server: ModelServer, **llm: Any) -> Config:
    settings = {"base_url": server.url, "model": "tiny", "timeout_s": 2, "max_retries": 0, **llm}
    return config_for(work, default="llm", llm=settings)


def review(
    engine: Engine, config: Config, data_dir: Path, target: str = "demo", **options: Any
) -> ReviewResult:
    context = jobs_context(engine, config, data_dir, runner_id="test:1")
    return run_review(context, target, **options)


@dataclass
class Reviews:
    """Reviews through the engine with one configuration: `reviews()` is one review of
    repository "demo", `reviews(full=True)` one of its options."""

    engine: Engine
    config: Config
    data_dir: Path

    def __call__(self, **options: Any) -> ReviewResult:
        return review(self.engine, self.config, self.data_dir, **options)
