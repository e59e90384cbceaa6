"""Real repositories, a migrated database and a helper that reviews through the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.context import Context
from jobs.review.engine import ReviewResult, run_review

# The review core's fixtures serve here too: a real repository and a fake model server.
from tests.review.conftest import Repo, _git_identity, fake_llm, repo  # noqa: F401
from tests.review.fake_llm import FakeLlm


def config_for(work: Repo, **reviewer: Any) -> Config:
    """Config with repo "demo"; lint selects pyflakes (F) unless told otherwise."""
    reviewer.setdefault("lint", {"select": ["F"]})
    return Config.model_validate(
        {"repos": [{"name": "demo", "path": str(work.path)}], "reviewer": reviewer}
    )


def llm_config(work: Repo, server: FakeLlm, **llm: Any) -> Config:
    settings = {"base_url": server.url, "model": "tiny", "timeout_s": 2, "max_retries": 0, **llm}
    return config_for(work, default="llm", llm=settings)


def review(
    engine: Engine, config: Config, data_dir: Path, target: str = "demo", **options: Any
) -> ReviewResult:
    context = Context(config, engine, data_dir, config_source="test", runner_id="test:1")
    return run_review(context, target, **options)
