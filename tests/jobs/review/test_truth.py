"""The truth rule: after any series of full and delta reviews, a review's open findings
equal what the linters report in a fresh `git clone` checkout of the reviewed commit.

Each test makes a real repository, reviews it commit by commit through the engine,
and compares the open set with an oracle computed here by running the real linter
(ruff, shellcheck) in a real clone of HEAD, as a developer would.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.review.engine import ReviewResult
from jobs.review.history import open_findings
from jobs.review.post import review_reply
from jobs.review.targets import ReviewFailed
from tests.support.git_repo import Repo
from tests.support.oracles import ruff_in_a_clone, ruff_oracle, shellcheck_oracle
from tests.support.reviews import Reviews, lint_config, open_set, review
from tests.support.rows import count_reviews


def states(result: ReviewResult) -> list[tuple[str, str, str]]:
    return sorted((f.path, f.category, f.status) for f in result.findings)


def test_repository_config_with_exclude_extend_and_first_party_packages(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    pyproject = (
        '[tool.ruff]\nextend = "config/ruff-base.toml"\nsrc = ["src"]\n'
        'extend-exclude = ["generated"]\n'
    )
    base = '[lint]\nselect = ["F", "I"]\n'
    # Sorted only when `mypkg` is first-party (found under src/): isort's I001 says so.
    app = "import os\n\nimport requests\n\nimport mypkg\n\nprint(os, requests, mypkg)\n"
    git_repo.commit(
        "layout",
        **{
            "pyproject.toml": pyproject, "config/ruff-base.toml": base,
            "src/mypkg/__init__.py": "", "app.py": app,
            "generated/models.py": "import sys\n",  # excluded by the repository
        },
    )  # fmt: skip
    first = repo_lint()
    assert first.kind == "full" and open_set(engine, first) == ruff_oracle(git_repo, tmp_path)
    assert open_set(engine, first) == Counter()
    git_repo.commit("unsorted", **{"tool.py": "import mypkg\nimport json\n\nprint(mypkg, json)\n"})
    second = repo_lint()
    assert second.kind == "delta"
    assert open_set(engine, second) == ruff_oracle(git_repo, tmp_path)
    assert states(second) == [("tool.py", "I001", "new")]


def test_removing_an_imports_only_use_reports_the_unchanged_import_line(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    git_repo.commit("use", **{"app.py": "import os\n\n\ndef f():\n    return os.sep\n"})
    assert repo_lint().counts["new"] == 0
    git_repo.commit("drop use", **{"app.py": "import os\n\n\ndef f():\n    return 1\n"})
    delta = repo_lint()
    assert [(f.path, f.line, f.category, f.status) for f in delta.findings] == [
        ("app.py", 1, "F401", "new")
    ]
    assert open_set(engine, delta) == ruff_oracle(git_repo, tmp_path)


def test_a_fix_elsewhere_in_a_file_fixes_the_finding(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    body = "import os\n\n\ndef f():\n    return 1\n"
    git_repo.commit("base", **{"app.py": body})
    assert [f.category for f in repo_lint().findings] == ["F401"]
    git_repo.commit("use os at the end", **{"app.py": body + "\n\nSEP = os.sep\n"})
    delta = repo_lint()
    assert states(delta) == [("app.py", "F401", "fixed")]
    assert open_set(engine, delta) == ruff_oracle(git_repo, tmp_path) == Counter()


def test_a_renamed_file_keeps_its_findings_and_their_identity(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    git_repo.commit("base", **{"old.py": "import os\nimport sys\n\nx = 1\n"})
    first = repo_lint()
    ids = {f.message: f.id for f in first.findings}
    git_repo.git("mv", "old.py", "pkg_new.py")
    git_repo.commit("rename")
    delta = repo_lint()
    assert (delta.counts["new"], delta.counts["open"], delta.counts["fixed"]) == (0, 2, 0)
    assert {f.message: f.id for f in delta.findings} == ids  # the same rows, feedback kept
    assert {f.path for f in delta.findings} == {"pkg_new.py"}
    assert open_set(engine, delta) == ruff_oracle(git_repo, tmp_path)


def test_identical_messages_in_one_file_stay_separate_findings(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    two = "def f(a, b):\n    x = a == None\n    y = b == None\n    return x, y\n"
    git_repo.commit("base", **{"ruff.toml": '[lint]\nselect = ["E711"]\n', "cmp.py": two})
    first = repo_lint()
    assert [(f.line, f.status) for f in first.findings] == [(2, "new"), (3, "new")]
    assert open_set(engine, first) == ruff_oracle(git_repo, tmp_path)
    second_id = first.findings[1].id  # the one on line 3
    one = two.replace("a == None", "a is None")  # fix the first of the two
    git_repo.commit("fix one", **{"cmp.py": one})
    delta = repo_lint()
    assert (delta.counts["new"], delta.counts["open"], delta.counts["fixed"]) == (0, 1, 1)
    # The one left is the one that was on line 3: the same row (and its feedback).
    assert [(f.id, f.line) for f in delta.shown] == [(second_id, 3)]
    assert open_set(engine, delta) == ruff_oracle(git_repo, tmp_path)
    three = one.replace("    return", "    z = a == None\n    w = b == None\n    return")
    git_repo.commit("three", **{"cmp.py": three})
    third = repo_lint()
    assert (third.counts["new"], third.counts["open"]) == (2, 1)
    assert open_set(engine, third) == ruff_oracle(git_repo, tmp_path)


def test_a_config_change_rechecks_the_whole_tree(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    git_repo.commit(
        "base",
        **{"pyproject.toml": '[tool.ruff.lint]\nselect = ["F"]\n', "a.py": "import os\n",
           "b.py": "import sys\n"},
    )  # fmt: skip
    assert repo_lint().counts["new"] == 2
    # Only the config changes; a.py and b.py are untouched by the delta.
    git_repo.commit("ignore F401", **{"pyproject.toml": '[tool.ruff.lint]\nselect = ["F", "E711"]\n'
                                  'ignore = ["F401"]\n'})  # fmt: skip
    delta = repo_lint()
    assert states(delta) == [("a.py", "F401", "fixed"), ("b.py", "F401", "fixed")]
    assert open_set(engine, delta) == ruff_oracle(git_repo, tmp_path) == Counter()


def test_a_shell_script_is_reviewed_by_real_shellcheck(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    script = '#!/bin/sh\necho $1\ncd "$2"\n'
    git_repo.commit("scripts", **{"scripts/run.sh": script, "app.py": "import os\n"})
    config = lint_config(git_repo, repo_linters=[{"name": "shellcheck", "preset": "shellcheck"}])
    first = review(engine, config, tmp_path)
    shell = Counter(k for k in open_set(engine, first).elements() if k[0].endswith(".sh"))
    python = Counter(k for k in open_set(engine, first).elements() if k[0].endswith(".py"))
    assert shell == shellcheck_oracle(git_repo, tmp_path) and shell
    assert python == ruff_oracle(git_repo, tmp_path)
    assert {f.category for f in first.findings} >= {"SC2086", "SC2164", "F401"}
    git_repo.commit("quote", **{"scripts/run.sh": '#!/bin/sh\necho "$1"\ncd "$2" || exit\n'})
    delta = review(engine, config, tmp_path)
    assert sorted((f.category, f.status) for f in delta.findings if f.path.endswith(".sh")) == [
        ("SC2086", "fixed"), ("SC2164", "fixed"),
    ]  # fmt: skip
    assert shellcheck_oracle(git_repo, tmp_path) == Counter()
    assert not delta.skipped_files


def test_files_no_linter_covers_are_listed_as_not_reviewed(
    git_repo: Repo, repo_lint: Reviews
) -> None:
    git_repo.commit("web", **{"web/app.ts": "let x = 1\n", "web/b.ts": "", "app.py": "x = 1\n"})
    result = repo_lint()
    assert [(s.path, s.reason) for s in result.skipped_files] == [
        ("web/app.ts", "no linter for *.ts"), ("web/b.ts", "no linter for *.ts"),
    ]  # fmt: skip
    assert result.to_json()["skipped_files"][0] == {
        "path": "web/app.ts", "reason": "no linter for *.ts",
    }  # fmt: skip
    assert result.to_json()["reviewed_files"] == 1
    texts = [block.text for block in review_reply(result, repo_lint.config).blocks]
    assert "📄 2 files have no linter: /findings demo unreviewed" in texts
    assert "📋 0 open in all, most severe first: /findings demo" in texts
    cached = repo_lint()
    assert cached.cache_hit and cached.skipped_files == result.skipped_files


def test_a_commit_no_linter_covers_says_nothing_was_reviewed(
    git_repo: Repo, repo_lint: Reviews
) -> None:
    git_repo.commit("go", **{"main.go": "package main\n"})
    result = repo_lint()
    reply = review_reply(result, repo_lint.config)
    assert reply.title == "demo: first review — 0 findings"
    assert "📄 1 file has no linter: /findings demo unreviewed" in [b.text for b in reply.blocks]


def test_a_config_ruff_cannot_read_fails_the_review_with_ruffs_reason(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    git_repo.commit("ok", **{"app.py": "import os\n"})
    earlier = repo_lint()
    git_repo.commit("old key", **{"pyproject.toml": "[tool.ruff]\nshow-source = true\n"})
    with pytest.raises(ReviewFailed) as failure:
        repo_lint()
    reason = failure.value.reason
    assert reason.startswith("ruff failed: Failed to parse pyproject.toml")
    assert "unknown field `show-source`" in reason and str(tmp_path) not in reason
    assert count_reviews(engine, "demo") == 1  # no review row for the failed one
    assert [f.status for f in open_findings(engine, "demo")] == ["open"]
    assert earlier.counts["new"] == 1


def test_a_reviewer_rule_change_leaves_no_stale_open_findings(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    rules = '[lint]\nselect = ["F", "E711"]\n'
    git_repo.commit(
        "base", **{"ruff.toml": rules, "app.py": "import os\nimport sys\nx = sys.path == None\n"}
    )
    review(engine, lint_config(git_repo), tmp_path)
    assert {f.category for f in open_findings(engine, "demo")} == {"F401", "E711"}
    narrowed = Config.model_validate(
        {"repos": [{"name": "demo", "path": str(git_repo.path)}],
         "reviewer": {"lint": {"select": ["F"]}}}
    )  # fmt: skip
    git_repo.commit("more", **{"b.py": "import sys\n"})
    result = review(engine, narrowed, tmp_path)  # a new reviewer chain: a full review
    assert result.kind == "full"
    assert (
        Counter((f.path, f.category) for f in open_findings(engine, "demo"))
        == Counter((f.path, f.category) for f in result.shown)
        == Counter([("app.py", "F401"), ("b.py", "F401")])
    )


def notebook(*cells: str) -> str:
    """An .ipynb of code cells as Jupyter writes it (each source line a JSON string)."""
    code = [
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": cell.splitlines(keepends=True),
        }
        for cell in cells
    ]
    document = {"cells": code, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, indent=1) + "\n"


CellKey = tuple[str, int | None, int, str]  # path, cell, line, category


def ruff_cells_oracle(work: Repo, tmp_path: Path) -> Counter[CellKey]:
    """`ruff check .` in a fresh clone of HEAD, with the cell ruff names."""
    return Counter(
        (item["filename"], item.get("cell"), item["location"]["row"], item["code"])
        for item in ruff_in_a_clone(work, tmp_path)
    )


def test_a_notebooks_findings_name_their_cell_as_ruff_does(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    git_repo.commit(
        "notebook",
        **{
            "ruff.toml": '[lint]\nselect = ["F401"]\n',
            "nb.ipynb": notebook("import os\n", "x = 1\nimport sys\n"),
        },
    )
    first = repo_lint()
    found = Counter((f.path, f.cell, f.line, f.category) for f in first.shown)
    assert (
        found
        == ruff_cells_oracle(git_repo, tmp_path)
        == Counter({("nb.ipynb", 1, 1, "F401"): 1, ("nb.ipynb", 2, 2, "F401"): 1})
    )
    assert open_set(engine, first) == ruff_oracle(git_repo, tmp_path)
    texts = "\n".join(block.text for block in review_reply(first, repo_lint.config).blocks)
    assert "nb.ipynb:cell 2:2 · F401" in texts and "nb.ipynb:cell 1:1 · F401" in texts
    assert {f["cell"] for f in first.to_json()["findings"]} == {1, 2}
    # A cell added above renumbers the cells: the same findings (rows, and so their
    # feedback), now in cells 2 and 3, as ruff says.
    ids = {f.message: f.id for f in first.shown}
    git_repo.commit(
        "a cell above",
        **{"nb.ipynb": notebook("print(1)\n", "import os\n", "x = 1\nimport sys\n")},
    )
    delta = repo_lint()
    assert (delta.counts["new"], delta.counts["open"]) == (0, 2)
    assert {f.message: f.id for f in delta.shown} == ids
    moved = Counter((f.path, f.cell, f.line, f.category) for f in delta.shown)
    assert moved == ruff_cells_oracle(git_repo, tmp_path)
    assert sorted(f.cell for f in open_findings(engine, "demo")) == [2, 3]
    cached = repo_lint()
    assert cached.cache_hit
    assert Counter((f.path, f.cell, f.line, f.category) for f in cached.shown) == moved
