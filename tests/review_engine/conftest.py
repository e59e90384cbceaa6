"""Real repositories, a migrated database and a helper that reviews through the engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from jobs.config import Config
from jobs.review.engine import ReviewResult, run_review
from tests.review.conftest import GIT_ENV, Repo
from tests.review.fake_llm import FakeLlm


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    path = tmp_path / "work"
    path.mkdir()
    created = Repo(path)
    created.git("init", "-q", "-b", "main")
    return created


@pytest.fixture
def fake_llm() -> Iterator[FakeLlm]:
    server = FakeLlm()
    yield server
    server.close()


def config_for(repo: Repo, **reviewer: Any) -> Config:
    """Config with repo "demo"; lint selects pyflakes (F) unless told otherwise."""
    reviewer.setdefault("lint", {"select": ["F"]})
    return Config.model_validate(
        {"repos": [{"name": "demo", "path": str(repo.path)}], "reviewer": reviewer}
    )


def llm_config(repo: Repo, server: FakeLlm, **llm: Any) -> Config:
    settings = {"base_url": server.url, "model": "tiny", "timeout_s": 2, "max_retries": 0, **llm}
    return config_for(repo, default="llm", llm=settings)


def review(
    engine: Engine, config: Config, data_dir: Path, target: str = "demo", **options: Any
) -> ReviewResult:
    return run_review(engine, config, data_dir, target, runner_id="test:1", **options)
