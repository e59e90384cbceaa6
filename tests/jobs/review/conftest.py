"""The review tests' fixture: the test repository linted through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.support.git_repo import Repo
from tests.support.reviews import Reviews, config_for, lint_config


@pytest.fixture
def lint(engine: Engine, git_repo: Repo, tmp_path: Path) -> Reviews:
    """git_repo as repository "demo", linted by ruff for pyflakes (F)."""
    return Reviews(engine, config_for(git_repo), tmp_path)


@pytest.fixture
def repo_lint(engine: Engine, git_repo: Repo, tmp_path: Path) -> Reviews:
    """git_repo as repository "demo", linted as its own configuration says."""
    return Reviews(engine, lint_config(git_repo), tmp_path)
