"""A push to a reviewed branch is a delta, on real repositories: the linters lint the
new head only (the merge base's findings kept from the first review, seen through a
real linter on PATH that logs every run), and the truth stays ruff's difference in
checkouts of head and merge base; a model reads only what was pushed and keeps its
earlier findings where the push left them. A force-push, or main merged into the
branch (a new merge base), is reviewed in full again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from jobs.review.branch_review import BranchAsk, run_branch_review
from jobs.review.result import BranchReview
from tests.jobs.review.test_branch_review import assert_is_the_linter_difference, on_main, states
from tests.standins.model_server import ModelServer
from tests.support.context import jobs_context
from tests.support.feedback import config_for
from tests.support.git_repo import Repo
from tests.support.reviews import first_added_lines, llm_config

FEATURE = BranchAsk(branch="feature")


@pytest.fixture
def linted_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A linter on PATH (`counted`, checkstyle, *.py) that finds nothing and appends the
    files of each run, one run a line, to the file returned."""
    bin_dir, log = tmp_path / "bin", tmp_path / "linted.log"
    bin_dir.mkdir()
    script = bin_dir / "counted"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "counted 1.0"; exit 0; fi\n'
        f'echo "$*" >> {log}\n'
        "echo '<checkstyle version=\"4.3\"></checkstyle>'\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def fresh(tmp_path: Path, name: str) -> Path:
    """A directory of its own for one check's checkouts."""
    (tmp_path / name).mkdir()
    return tmp_path / name


def runs(log: Path) -> list[set[str]]:
    return [set(line.split()) for line in log.read_text().splitlines()]


def test_a_push_lints_only_the_new_head_and_stays_the_linters_difference(
    engine: Engine, git_repo: Repo, tmp_path: Path, linted_files: Path
) -> None:
    git_repo.commit("start", **{"a.py": "import os\n", "b.py": "import sys\n"})
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("feature", **{"c.py": "import json\nimport re\n"})
    git_repo.git("checkout", "-q", "main")
    counted = {"name": "counted", "command": ["counted"], "format": "checkstyle",
               "files": ["*.py"]}  # fmt: skip
    config = on_main(config_for(git_repo, reviewer={"lint": {"select": ["F"],
                                                              "linters": [counted]}}))  # fmt: skip
    context = jobs_context(engine, config, tmp_path / "data")

    first = run_branch_review(context, "demo", FEATURE)
    assert_is_the_linter_difference(first, git_repo, fresh(tmp_path, "first"))
    head_files, base_files = {"./a.py", "./b.py", "./c.py"}, {"./a.py", "./b.py"}
    assert runs(linted_files) == [head_files, base_files]

    # The push fixes a.py's unused import (main's) and c.py's `re`, and adds e.py's `abc`.
    git_repo.git("checkout", "-q", "feature")
    git_repo.commit("push", **{"a.py": "x = 1\n", "c.py": "import json\nx = 2\n",
                               "e.py": "import abc\n"})  # fmt: skip
    git_repo.git("checkout", "-q", "main")
    pushed = run_branch_review(context, "demo", FEATURE)
    assert not pushed.result.cache_hit
    assert pushed.head.merge_base == first.head.merge_base
    assert_is_the_linter_difference(pushed, git_repo, fresh(tmp_path, "pushed"))
    assert found_at(pushed) == {
        "new": {("c.py", "`json` imported but unused"), ("e.py", "`abc` imported but unused")},
        "fixed": {("a.py", "`os` imported but unused")},
    }
    # One more run, at the new head: the merge base is not linted a second time.
    assert runs(linted_files) == [head_files, base_files, {"./a.py", "./b.py", "./c.py", "./e.py"}]

    # A force-push rewriting the branch: compared in full with the same merge base.
    git_repo.git("checkout", "-q", "feature")
    git_repo.git("reset", "-q", "--hard", first.head.merge_base)
    git_repo.commit("rewritten", **{"f.py": "import glob\n"})
    git_repo.git("checkout", "-q", "main")
    rewritten = run_branch_review(context, "demo", FEATURE)
    assert_is_the_linter_difference(rewritten, git_repo, fresh(tmp_path, "rewritten"))
    assert found_at(rewritten) == {"new": {("f.py", "`glob` imported but unused")}, "fixed": set()}

    # main moves on and is merged into the branch: a new merge base, linted once.
    git_repo.commit("main fixes b.py", **{"b.py": "y = 2\n", "g.py": "import re\n"})
    git_repo.git("checkout", "-q", "feature")
    git_repo.git("merge", "-q", "--no-edit", "main")
    git_repo.git("checkout", "-q", "main")
    merged = run_branch_review(context, "demo", FEATURE)
    assert merged.head.merge_base == git_repo.git("rev-parse", "main")
    assert_is_the_linter_difference(merged, git_repo, fresh(tmp_path, "merged"))
    assert found_at(merged) == {"new": {("f.py", "`glob` imported but unused")}, "fixed": set()}
    assert len(runs(linted_files)) == 6  # the rewritten head; the merged head and main


def found_at(found: BranchReview) -> dict[str, set[tuple[str, str]]]:
    return {state: {(p, m) for p, _rule, m in counted} for state, counted in states(found).items()}


def model_prompts(server: ModelServer, since: int) -> str:
    asked = [r for r in server.received[since:] if r.path.endswith("/chat/completions")]
    return "\n".join(r.body["messages"][-1]["content"] for r in asked)


def model_found(found: BranchReview) -> set[tuple[str, int, str]]:
    assert {f.status for f in found.result.findings} <= {"new"}
    return {(f.path, f.line, f.message) for f in found.result.findings}


def test_a_model_reads_only_the_push_and_keeps_its_earlier_findings(
    engine: Engine, git_repo: Repo, tmp_path: Path, model_server: ModelServer
) -> None:
    model_server.responder = first_added_lines(lambda _path, code: f"look at `{code}`")
    git_repo.commit("start", **{"a.py": "x = 1\n", "b.py": "y = 1\n"})
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("feature", **{"a.py": "x = 1\nv = 9\n", "c.py": "import json\nimport re\n",
                                  "g.py": "q = 1\n"})  # fmt: skip
    git_repo.git("checkout", "-q", "main")
    context = jobs_context(engine, on_main(llm_config(git_repo, model_server)), tmp_path / "data")
    first = run_branch_review(context, "demo", FEATURE)
    assert model_found(first) == {
        ("a.py", 2, "look at `v = 9`"),
        ("c.py", 1, "look at `import json`"),
        ("g.py", 1, "look at `q = 1`"),
    }

    # The push: a line above a.py's, c.py's first line changed, a new f.py; g.py untouched.
    git_repo.git("checkout", "-q", "feature")
    git_repo.commit("push", **{"a.py": "w = 0\nx = 1\nv = 9\n", "c.py": "import ujson\nimport re\n",
                               "f.py": "z = 3\n"})  # fmt: skip
    git_repo.git("checkout", "-q", "main")
    asked_before = len(model_server.received)
    pushed = run_branch_review(context, "demo", FEATURE)
    prompts = model_prompts(model_server, asked_before)
    assert "### a.py" in prompts and "### c.py" in prompts and "### f.py" in prompts
    assert "### g.py" not in prompts
    assert "+ 2 | import re" not in prompts  # c.py's unchanged line is not the push's
    assert model_found(pushed) == {
        ("a.py", 1, "look at `w = 0`"),
        ("a.py", 3, "look at `v = 9`"),  # carried, moved down by the line above it
        ("c.py", 1, "look at `import ujson`"),  # the line changed: the old finding is gone
        ("f.py", 1, "look at `z = 3`"),
        ("g.py", 1, "look at `q = 1`"),  # carried: the push left g.py alone
    }
    assert any(n.startswith("reviewed what was pushed since") for n in pushed.result.notes)

    # main moves on and is merged into the branch: a new merge base, the whole branch
    # diff from it read again (main's m.py is not the branch's).
    git_repo.commit("main moves on", **{"m.py": "n = 4\n"})
    git_repo.git("checkout", "-q", "feature")
    git_repo.git("merge", "-q", "--no-edit", "main")
    git_repo.git("checkout", "-q", "main")
    asked_before = len(model_server.received)
    merged = run_branch_review(context, "demo", FEATURE)
    prompts = model_prompts(model_server, asked_before)
    assert merged.head.merge_base == git_repo.git("rev-parse", "main")
    assert "### g.py" in prompts and "### m.py" not in prompts
    assert {path for path, _line, _message in model_found(merged)} == {
        "a.py",
        "c.py",
        "f.py",
        "g.py",
    }
    assert not any(n.startswith("reviewed what was pushed") for n in merged.result.notes)

    # A force-push rewriting the branch: the model reads the whole branch diff again.
    git_repo.git("checkout", "-q", "feature")
    git_repo.git("reset", "-q", "--hard", first.head.merge_base)
    git_repo.commit("rewritten", **{"h.py": "k = 5\n"})
    git_repo.git("checkout", "-q", "main")
    asked_before = len(model_server.received)
    rewritten = run_branch_review(context, "demo", FEATURE)
    assert "### h.py" in model_prompts(model_server, asked_before)
    assert model_found(rewritten) == {("h.py", 1, "look at `k = 5`")}
    assert not any(n.startswith("reviewed what was pushed") for n in rewritten.result.notes)
