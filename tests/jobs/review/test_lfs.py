"""Files stored in git LFS are reviewed as a clone with git-lfs has them, from the
repository's own local LFS store; where git-lfs is missing or the object is not
there, the file is listed as not reviewed with the reason, never linted as pointer
text."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from jobs.review import lfs
from tests.support.files import snapshot
from tests.support.git_repo import GIT_ENV, Repo
from tests.support.oracles import Key, ruff_in
from tests.support.reviews import Reviews, lint_config, open_set

NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": ["import re\n"]}],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}  # fmt: skip


@pytest.fixture
def lfs_repo(git_repo: Repo) -> Repo:
    """git_repo with pkg/*.py and notebooks tracked in LFS: pkg/a.py (two unused
    imports) and nb.ipynb (one), and app.py stored plainly."""
    if shutil.which("git-lfs") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs git-lfs for the LFS tests (.ci/run installs it)")
        pytest.skip("git-lfs not installed (apt-get install git-lfs)")
    git_repo.git("lfs", "install", "--local")
    git_repo.git("lfs", "track", "pkg/*.py", "*.ipynb")
    git_repo.commit(
        "lfs",
        **{"pkg/a.py": "import os\nimport sys\n", "nb.ipynb": json.dumps(NOTEBOOK),
           "app.py": "import json\n"},
    )  # fmt: skip
    assert git_repo.git("show", "HEAD:pkg/a.py").startswith("version https://git-lfs")
    return git_repo


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})  # fmt: skip


# What `git lfs install` puts in a developer's global configuration.
LFS_FILTER = ("-c", "filter.lfs.process=git-lfs filter-process", "-c", "filter.lfs.required=true")


def ruff_in_a_clone_with_git_lfs(work: Repo, tmp_path: Path) -> Counter[Key]:
    """`ruff check .` in a `git clone` made with git-lfs set up, as a developer's is:
    the files the commit's attributes put in LFS smudged (fetched from the local path)."""
    clone = tmp_path / f"oracle-lfs-{work.git('rev-parse', '--short', 'HEAD')}"
    git(*LFS_FILTER, "clone", "-q", str(work.path), str(clone), cwd=tmp_path)
    assert (clone / "pkg" / "a.py").read_text().startswith("import os")
    items = json.loads(ruff_in(clone, tmp_path).stdout)
    return Counter(
        (Path(i["filename"]).relative_to(clone).as_posix(), i["location"]["row"], i["code"],
         i["message"])
        for i in items
    )  # fmt: skip


def test_lfs_files_are_reviewed_as_a_clone_with_git_lfs_has_them(
    engine: Engine, lfs_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    result = repo_lint()
    assert Counter((f.path, f.category) for f in result.shown) == Counter(
        {("pkg/a.py", "F401"): 2, ("nb.ipynb", "F401"): 1, ("app.py", "F401"): 1}
    )
    assert open_set(engine, result) == ruff_in_a_clone_with_git_lfs(lfs_repo, tmp_path)
    assert [s.path for s in result.skipped_files] == [".gitattributes"]
    lfs_repo.commit("fix one", **{"pkg/a.py": "import os\n"})
    # The user's repository is not written to: no download, no log, no new object.
    git_dir = snapshot(lfs_repo.path / ".git")
    delta = repo_lint()
    assert snapshot(lfs_repo.path / ".git") == git_dir
    assert sorted((f.category, f.status) for f in delta.findings if f.path == "pkg/a.py") == [
        ("F401", "fixed"), ("F401", "open"),
    ]  # fmt: skip
    assert open_set(engine, delta) == ruff_in_a_clone_with_git_lfs(lfs_repo, tmp_path)


def test_pointer_text_outside_lfs_is_linted_as_the_text_it_is(
    engine: Engine, lfs_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    # The same pointer, committed as a plain file: a clone with git-lfs shows its text.
    pointer = lfs_repo.git("show", "HEAD:pkg/a.py") + "\n"
    lfs_repo.commit("a pointer, not in LFS", **{"notes/pointer.py": pointer})
    result = repo_lint()
    assert "invalid-syntax" in {f.category for f in result.shown if f.path == "notes/pointer.py"}
    assert open_set(engine, result) == ruff_in_a_clone_with_git_lfs(lfs_repo, tmp_path)


def test_without_git_lfs_lfs_files_are_listed_as_not_reviewed(
    engine: Engine, lfs_repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare_path = tmp_path / "bin-without-git-lfs"
    bare_path.mkdir()
    (bare_path / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(bare_path))
    result = Reviews(engine, lint_config(lfs_repo), tmp_path)()
    assert [(f.path, f.category) for f in result.shown] == [("app.py", "F401")]
    assert {(s.path, s.reason) for s in result.skipped_files} >= {
        ("pkg/a.py", lfs.NOT_INSTALLED), ("nb.ipynb", lfs.NOT_INSTALLED),
    }  # fmt: skip
    assert result.to_json()["reviewed_files"] == 1
    assert not any(f.category == "invalid-syntax" for f in result.findings)


def test_an_lfs_object_missing_from_the_local_store_is_listed_as_not_reviewed(
    engine: Engine, lfs_repo: Repo, tmp_path: Path
) -> None:
    # A clone that never fetched its LFS objects (as `opsdesk` clones a remote).
    clone = tmp_path / "clone-without-objects"
    subprocess.run(["git", "clone", "-q", str(lfs_repo.path), str(clone)], check=True,
                   env={**os.environ, **GIT_ENV, "GIT_LFS_SKIP_SMUDGE": "1"})  # fmt: skip
    result = Reviews(engine, lint_config(Repo(clone)), tmp_path)()
    assert [(f.path, f.category) for f in result.shown] == [("app.py", "F401")]
    assert {(s.path, s.reason) for s in result.skipped_files} >= {
        ("pkg/a.py", lfs.NOT_STORED), ("nb.ipynb", lfs.NOT_STORED),
    }  # fmt: skip
    # Nothing was fetched or written into the clone's git directory for it.
    assert not (clone / ".git" / "lfs").exists()
