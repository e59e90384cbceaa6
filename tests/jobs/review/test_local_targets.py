"""Local paths as review targets: the repository a path is in, and a history of its own."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.review.targets import MAX_REPO_NAME
from tests.support.git_repo import Repo
from tests.support.reviews import review


def test_a_subdirectory_reviews_the_repository_it_is_in(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("one", **{"pkg/deep/app.py": "import os\n", "top.py": "import sys\n"})
    config = Config()
    inside = review(engine, config, tmp_path, str(git_repo.path / "pkg" / "deep"), allow_local=True)
    assert inside.repo == f"local:{git_repo.path.resolve()}"
    assert {f.path for f in inside.findings} == {"pkg/deep/app.py", "top.py"}
    at_root = review(engine, config, tmp_path, str(git_repo.path), allow_local=True)
    assert at_root.cache_hit and at_root.review_id == inside.review_id


def test_two_long_local_paths_never_share_a_history(engine: Engine, tmp_path: Path) -> None:
    common = tmp_path / ("a-rather-long-directory-name-" * 5)
    repos = []
    for name, content in (("one", "import os\n"), ("two", "import sys\n")):
        work = Repo(common / name)
        work.path.mkdir(parents=True)
        work.git("init", "-q", "-b", "main")
        work.commit("first", **{"app.py": content})
        repos.append(work)
    config = Config()
    first, second = (review(engine, config, tmp_path, str(w.path), allow_local=True) for w in repos)
    assert len(f"local:{repos[0].path}") > MAX_REPO_NAME
    assert first.repo != second.repo and len(first.repo) <= MAX_REPO_NAME
    assert first.repo.endswith("/one") and second.repo.endswith("/two")
    assert not second.cache_hit and [f.message for f in second.findings] == [
        "`sys` imported but unused"
    ]
