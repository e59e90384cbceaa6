from __future__ import annotations

from jobs.config.schema import LintReviewerConfig
from jobs.review.lint.reviewer import LintReviewer
from jobs.review.pipeline import prepare_review
from tests.support.files import snapshot
from tests.support.git_repo import Repo

OLD = "import sys\n\n\ndef old():\n    return 1\n"
NEW = "import sys\nimport os\n\n\ndef old():\n    return 1\n"


def lint(git_repo: Repo, base: str | None, head: str, **config: list[str]) -> list[tuple[str, int]]:
    reviewer = LintReviewer(LintReviewerConfig(**config))
    output = reviewer.review(prepare_review(git_repo.path, base, head, reviewer.budget_tokens()))
    assert output.tokens_in == 0 and output.model is None
    return [(f.source, f.line) for f in output.findings]


def test_the_whole_commit_is_linted_not_only_the_changed_lines(git_repo: Repo) -> None:
    base = git_repo.commit("base", **{"ruff.toml": "", "app.py": OLD, "other.py": "import re\n"})
    head = git_repo.commit("add import", **{"app.py": NEW})
    assert lint(git_repo, base, head, select=["F401"]) == [
        ("ruff:F401", 1), ("ruff:F401", 2), ("ruff:F401", 1),
    ]  # fmt: skip


def test_full_review_reports_every_line(git_repo: Repo) -> None:
    head = git_repo.commit("first", **{"app.py": NEW})
    assert lint(git_repo, None, head, select=["F401"]) == [("ruff:F401", 1), ("ruff:F401", 2)]


def test_findings_map_onto_the_common_shape(git_repo: Repo) -> None:
    head = git_repo.commit("first", **{"pkg/app.py": "import os\n", "pkg/bad.py": "def f(:\n"})
    reviewer = LintReviewer(LintReviewerConfig(select=["F"]))
    output = reviewer.review(prepare_review(git_repo.path, None, head, reviewer.budget_tokens()))
    by_path = {f.path: f for f in output.findings}
    unused = by_path["pkg/app.py"]
    assert (unused.category, unused.severity, unused.line) == ("F401", "warning", 1)
    assert "os" in unused.message and unused.suggestion
    assert by_path["pkg/bad.py"].severity == "error"


def test_repository_ruff_config_at_the_commit_is_used(git_repo: Repo) -> None:
    config = '[tool.ruff.lint]\nselect = ["E711"]\n'
    head = git_repo.commit(
        "cfg", **{"pyproject.toml": config, "a.py": "import os\nx = os.sep == None\n"}
    )
    assert lint(git_repo, None, head) == [("ruff:E711", 2)]
    assert lint(git_repo, None, head, ignore=["E711"]) == []


def test_commit_content_is_linted_and_the_work_tree_is_left_alone(git_repo: Repo) -> None:
    base = git_repo.commit("base", **{"app.py": OLD})
    head = git_repo.commit("add import", **{"app.py": NEW})
    git_repo.write("app.py", "print('uncommitted')\n")
    git_repo.write("scratch.py", "import json\n")
    status_before = git_repo.git("status", "--porcelain", "--untracked-files=all")
    git_dir_before = snapshot(git_repo.path / ".git")

    assert lint(git_repo, base, head, select=["F401"]) == [("ruff:F401", 1), ("ruff:F401", 2)]

    assert snapshot(git_repo.path / ".git") == git_dir_before  # before `git status` refreshes it
    assert git_repo.git("status", "--porcelain", "--untracked-files=all") == status_before
    assert (git_repo.path / "app.py").read_text() == "print('uncommitted')\n"
    assert not list(git_repo.path.glob(".ruff_cache"))


def test_fingerprint_follows_the_rule_set() -> None:
    plain = LintReviewer().fingerprint()
    assert plain == LintReviewer(LintReviewerConfig()).fingerprint()
    assert len(plain) == 64
    assert plain != LintReviewer(LintReviewerConfig(select=["F"])).fingerprint()
    assert (
        LintReviewer(LintReviewerConfig(select=["F", "E"])).fingerprint()
        == LintReviewer(LintReviewerConfig(select=["E", "F"])).fingerprint()
    )
