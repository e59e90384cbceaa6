"""A repository configuration a linter cannot read fails the review with the linter's
reason, as the linter itself fails in a clone; it never falls back to the linter's
defaults. The earlier review stays the cached one and the base of the next."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from jobs.review.engine import ReviewResult
from jobs.review.history import cached_review, open_findings
from jobs.review.targets import ReviewFailed
from tests.support.git_repo import Repo
from tests.support.oracles import fresh_clone, oracle_env, ruff_in, shellcheck_program
from tests.support.reviews import Reviews, lint_config
from tests.support.rows import count_reviews

PYPROJECT = '[project]\nname = "demo"\n\n[tool.ruff.lint]\nselect = [\n    "F",\n    "I",\n]\n'
CONFLICTED = (
    '[project]\nname = "demo"\n<<<<<<< HEAD\nversion = "1.0"\n=======\nversion = "1.1"\n'
    ">>>>>>> feature\n"
)
# The "]" closing `select` removed; and a pyproject.toml without any ruff table whose
# merge-conflict markers ruff must still read through (an empty ruff.toml beside it
# would take precedence and lint with ruff's defaults).
BROKEN = {
    "invalid TOML": PYPROJECT.replace('    "I",\n]\n', '    "I",\n'),
    "merge-conflict markers": CONFLICTED,
}


def fails_with(reviews: Reviews) -> str:
    with pytest.raises(ReviewFailed) as failure:
        reviews()
    return failure.value.reason


def assert_earlier_review_stands(engine: Engine, earlier: ReviewResult) -> None:
    """No review row for the failed one; the earlier review is still the cached one and
    /findings still lists its findings."""
    assert count_reviews(engine, "demo") == 1
    assert [f.category for f in open_findings(engine, "demo")] == ["F401"]
    row = earlier.stored.row
    cached = cached_review(engine, "demo", row["commit_sha"], row["reviewer_fingerprint"])
    assert cached is not None and cached.id == earlier.review_id


@pytest.mark.parametrize("broken", list(BROKEN), ids=list(BROKEN))
def test_a_pyproject_ruff_cannot_parse_fails_the_review_as_ruff_fails(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews, broken: str
) -> None:
    earlier_sha = git_repo.commit("ok", **{"pyproject.toml": PYPROJECT, "app.py": "import os\n"})
    earlier = repo_lint()
    assert [f.category for f in earlier.findings] == ["F401"]
    git_repo.commit("broken", **{"pyproject.toml": BROKEN[broken], "b.py": "import sys\n"})
    reason = fails_with(repo_lint)
    assert reason.startswith("ruff failed: Failed to parse pyproject.toml: TOML parse error")
    assert str(tmp_path) not in reason
    # ruff in a clone of the same commit fails the same way.
    in_a_clone = ruff_in(fresh_clone(git_repo, tmp_path), tmp_path)
    assert in_a_clone.returncode == 2 and "Failed to parse" in in_a_clone.stderr
    assert_earlier_review_stands(engine, earlier)
    assert fails_with(repo_lint) == reason  # every time, never cached
    git_repo.commit("mended", **{"pyproject.toml": PYPROJECT})
    mended = repo_lint()
    assert (mended.kind, mended.base_sha) == ("delta", earlier_sha)
    assert sorted((f.path, f.status) for f in mended.findings) == [
        ("app.py", "open"), ("b.py", "new"),
    ]  # fmt: skip


def test_an_unreadable_shellcheckrc_fails_the_review_with_shellchecks_reason(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    shell = Reviews(
        engine, lint_config(git_repo, [{"name": "shellcheck", "preset": "shellcheck"}]), tmp_path
    )
    git_repo.commit(
        "ok", **{".shellcheckrc": "disable=SC2164\n", "run.sh": '#!/bin/sh\ncd "$1"\n',
                 "app.py": "import os\n"},
    )  # fmt: skip
    earlier = shell()
    assert [f.category for f in earlier.findings] == ["F401"]
    rc = "disable=SC2164\n<<<<<<< HEAD\nshell=bash\n=======\nshell=sh\n>>>>>>> other\n"
    git_repo.commit("conflicted rc", **{".shellcheckrc": rc, "run.sh": "#!/bin/sh\necho $1\n"})
    reason = fails_with(shell)
    assert reason.startswith("shellcheck failed: Failed to process .shellcheckrc, line 2")
    assert str(tmp_path) not in reason
    # shellcheck in a clone says the same, and lints with its defaults: not the truth.
    clone = fresh_clone(git_repo, tmp_path)
    said = subprocess.run(
        [shellcheck_program(), "--format=gcc", "run.sh"], cwd=clone, capture_output=True,
        text=True, env=oracle_env(tmp_path),
    ).stdout  # fmt: skip
    assert "Failed to process" in said and "SC1134" in said
    assert_earlier_review_stands(engine, earlier)


def test_a_ruff_toml_with_merge_conflict_markers_fails_the_review(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    rules = '[lint]\nselect = ["F401"]\n'
    git_repo.commit("ok", **{"ruff.toml": rules, "app.py": "import os\n"})
    earlier = repo_lint()
    conflicted = '[lint]\n<<<<<<< HEAD\nselect = ["F401"]\n=======\nselect = ["F"]\n>>>>>>> b\n'
    git_repo.commit("conflicted", **{"ruff.toml": conflicted})
    reason = fails_with(repo_lint)
    assert reason.startswith("ruff failed: Failed to load configuration `ruff.toml`")
    assert "TOML parse error" in reason and str(tmp_path) not in reason
    in_a_clone = ruff_in(fresh_clone(git_repo, tmp_path), tmp_path)
    assert in_a_clone.returncode == 2 and "ruff.toml" in in_a_clone.stderr
    assert_earlier_review_stands(engine, earlier)


# Read by ruff as broken too, so no empty ruff.toml may be written beside them (ruff
# would prefer it and lint with its defaults): a file that is not UTF-8, and a `tool`
# that is not a table.
UNREADABLE = {
    "not UTF-8": (b'[project]\nname = "d\xe9mo"\n', "Failed to read pyproject.toml"),
    "tool not a table": (b'tool = 1\n[project]\nname = "demo"\n', "Failed to parse pyproject.toml"),
}


@pytest.mark.parametrize("case", list(UNREADABLE), ids=list(UNREADABLE))
def test_a_pyproject_ruff_cannot_read_is_never_replaced_by_ruffs_defaults(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews, case: str
) -> None:
    git_repo.commit("ok", **{"pyproject.toml": PYPROJECT, "app.py": "import os\n"})
    earlier = repo_lint()
    content, said = UNREADABLE[case]
    git_repo.commit("unreadable", **{"pyproject.toml": content, "b.py": "import sys\n"})
    reason = fails_with(repo_lint)
    assert reason.startswith(f"ruff failed: {said}") and str(tmp_path) not in reason
    in_a_clone = ruff_in(fresh_clone(git_repo, tmp_path), tmp_path)
    assert in_a_clone.returncode == 2 and said.removesuffix(" pyproject.toml") in in_a_clone.stderr
    assert_earlier_review_stands(engine, earlier)
