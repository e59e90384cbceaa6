"""What a branch or a pull request adds, on real repositories: its new findings are the
linter's at the branch head minus those at the merge base (as multisets), its fixed
ones the reverse — checked against ruff run in checkouts of both commits."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from jobs.config.schema import BudgetConfig, Config
from jobs.review.branch_review import BranchAsk, run_branch_review
from jobs.review.history import open_findings
from jobs.review.result import BranchReview
from jobs.review.targets import ReviewFailed
from storage.models import utcnow
from tests.standins.model_server import ModelServer
from tests.support.context import jobs_context
from tests.support.feedback import (
    DANA,
    config_for,
    finding_counts,
    listed_findings,
    payload,
    router_for,
)
from tests.support.git_repo import Repo
from tests.support.oracles import ruff_in
from tests.support.reviews import llm_config
from tests.support.rows import add_runs, review_run

Found = tuple[str, str, str]  # path, rule, message


def on_main(config: Config) -> Config:
    """The repository's configured branch is main (the base branches compare with)."""
    repo = config.repos[0].model_copy(update={"branch": "main"})
    return config.model_copy(update={"repos": [repo]})


def ruff_at(work: Repo, sha: str, tmp_path: Path) -> Counter[Found]:
    """`ruff check . --select F` in a fresh checkout of `sha`."""
    checkout = tmp_path / f"checkout-{sha[:10]}"
    subprocess.run(["git", "clone", "-q", str(work.path), str(checkout)], check=True)
    subprocess.run(["git", "-C", str(checkout), "checkout", "-q", sha], check=True)
    result = ruff_in(checkout, tmp_path, "--select", "F")
    assert result.returncode == 0, result.stderr
    return Counter(
        (Path(i["filename"]).resolve().relative_to(checkout.resolve()).as_posix(), i["code"],
         i["message"])
        for i in json.loads(result.stdout)
    )  # fmt: skip


def states(found: BranchReview) -> dict[str, Counter[Found]]:
    by_state: dict[str, Counter[Found]] = {"new": Counter(), "fixed": Counter()}
    for f in found.result.findings:
        by_state[f.status][(f.path, f.category, f.message)] += 1
    return by_state


def assert_is_the_linter_difference(found: BranchReview, work: Repo, tmp_path: Path) -> None:
    at_head = ruff_at(work, found.head.head_sha, tmp_path)
    at_base = ruff_at(work, found.head.merge_base, tmp_path)
    assert states(found) == {"new": at_head - at_base, "fixed": at_base - at_head}


@pytest.fixture
def branched(git_repo: Repo) -> Repo:
    """main: a.py and b.py with an unused import each. feature (from there): fixes a.py,
    adds c.py with two unused imports and a third `import os` beside b.py's. main then
    moves on with d.py (not the branch's business)."""
    git_repo.commit("start", **{"a.py": "import os\n", "b.py": "import sys\n"})
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("feature", **{"a.py": "x = 1\n", "c.py": "import json\nimport re\n"})
    git_repo.git("checkout", "-q", "main")
    git_repo.commit("main moves on", **{"d.py": "import abc\n"})
    return git_repo


def test_a_branch_adds_two_findings_and_fixes_one(
    engine: Engine, branched: Repo, tmp_path: Path
) -> None:
    context = jobs_context(engine, on_main(config_for(branched)), tmp_path / "data")
    found = run_branch_review(context, "demo", BranchAsk(branch="feature"))
    assert states(found) == {
        "new": Counter({("c.py", "F401", "`json` imported but unused"): 1,
                        ("c.py", "F401", "`re` imported but unused"): 1}),
        "fixed": Counter({("a.py", "F401", "`os` imported but unused"): 1}),
    }  # fmt: skip
    assert_is_the_linter_difference(found, branched, tmp_path)
    assert found.head.merge_base == branched.git("merge-base", "main", "feature")
    # The repository's own findings are untouched: the branch's are not main's.
    assert open_findings(engine, "demo") == []
    again = run_branch_review(context, "demo", BranchAsk(branch="feature"))
    assert again.result.cache_hit and again.result.review_id == found.result.review_id


def test_a_rebased_branch_is_compared_with_its_new_merge_base(
    engine: Engine, branched: Repo, tmp_path: Path
) -> None:
    context = jobs_context(engine, on_main(config_for(branched)), tmp_path / "data")
    before = run_branch_review(context, "demo", BranchAsk(branch="feature"))
    branched.git("checkout", "-q", "main")
    branched.commit("main fixes b.py", **{"b.py": "y = 2\n", "e.py": "import re\n"})
    branched.git("checkout", "-q", "feature")
    branched.git("rebase", "-q", "main")
    branched.git("checkout", "-q", "main")
    after = run_branch_review(context, "demo", BranchAsk(branch="feature"))
    assert not after.result.cache_hit
    assert after.head.merge_base != before.head.merge_base
    assert after.head.merge_base == branched.git("rev-parse", "main")
    assert_is_the_linter_difference(after, branched, tmp_path)
    # Neither main's fix of b.py nor its e.py is the branch's doing.
    assert {path for path, _rule, _message in states(after)["new"]} == {"c.py"}
    assert set(states(after)["fixed"]) == {("a.py", "F401", "`os` imported but unused")}


def test_a_pull_request_head_is_fetched_from_a_bare_remote(
    engine: Engine, branched: Repo, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    branched.git("push", "-q", str(remote), "main:refs/heads/main",
                 "feature:refs/pull/7/head")  # fmt: skip
    config = config_for(branched)
    remote_repo = config.repos[0].model_copy(update={"path": None, "url": str(remote)})
    context = jobs_context(
        engine, on_main(config.model_copy(update={"repos": [remote_repo]})), tmp_path / "data"
    )
    found = run_branch_review(context, "demo", BranchAsk(request=7))
    assert found.head.label == "#7"
    assert found.head.head_sha == branched.git("rev-parse", "feature")
    assert_is_the_linter_difference(found, branched, tmp_path)
    router = router_for(engine, context.config, tmp_path)
    missing = router.handle(DANA, "/review demo #8")
    assert missing.status == "error"
    assert "no pull or merge request #8 at its host (nearest: #7)" in missing.blocks[0].text


def test_a_gitlab_merge_request_head_is_fetched_from_its_namespace(
    engine: Engine, branched: Repo, tmp_path: Path
) -> None:
    """GitLab keeps a merge request's head at refs/merge-requests/N/head; `!9` (GitLab's
    spelling) and `#9` both name it."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    branched.git("push", "-q", str(remote), "main:refs/heads/main",
                 "feature:refs/merge-requests/9/head")  # fmt: skip
    config = config_for(branched)
    remote_repo = config.repos[0].model_copy(update={"path": None, "url": str(remote)})
    config = on_main(config.model_copy(update={"repos": [remote_repo]}))
    router = router_for(engine, config, tmp_path)
    reply = router.handle(DANA, "/review demo !9")
    assert reply.status == "ok", reply.blocks[0].text
    assert reply.title.startswith("Review demo #9: branch ")
    assert finding_counts(reply) == {"new": 2, "open": 0, "fixed": 1, "suppressed": 0}
    assert "cached" in router.handle(DANA, "/review demo #9").title


def test_review_of_a_branch_in_chat_and_its_feedback_on_main(
    engine: Engine, branched: Repo, tmp_path: Path
) -> None:
    router = router_for(engine, on_main(config_for(branched)), tmp_path)
    reply = router.handle(DANA, "/review demo feature")
    assert reply.status == "ok", reply.blocks[0].text
    assert reply.title.startswith("Review demo feature: branch ")
    assert reply.title.endswith("(1 commit on main)")
    assert finding_counts(reply) == {"new": 2, "open": 0, "fixed": 1, "suppressed": 0}
    keys = listed_findings(reply)
    assert len(keys) == 2
    router.press(DANA, payload(reply, keys[0], "False positive"))
    cached = router.handle(DANA, "/review demo feature")
    assert "cached" in cached.title and finding_counts(cached)["suppressed"] == 1
    # Merged: the same finding on main is the same finding, its false positive standing.
    branched.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    merged = router.handle(DANA, "/review demo")
    assert keys[0] not in listed_findings(merged)
    assert finding_counts(merged)["suppressed"] == 1
    assert keys[1] in listed_findings(merged)  # the other one is main's now, same row

    typo = router.handle(DANA, "/review demo featur")
    assert typo.status == "error"
    assert "no branch 'featur' (closest: feature)" in typo.blocks[0].text
    odd = router.handle(DANA, "/review demo --upload-pack=x")
    assert odd.status == "error" and "is not a branch name" in odd.blocks[0].text


@pytest.mark.parametrize("policy", ["pause", "lint"])
def test_a_branch_review_meets_a_spent_model_budget(
    branched: Repo, sqlite_engine: Engine, model_server: ModelServer, policy: str
) -> None:
    """A month that spent its budget: the branch's model review is refused (pause) or
    made by the linters (lint), and the model is never called."""
    config = on_main(llm_config(branched, model_server))
    budget = {"repos": {"demo": {"monthly_tokens": 1000, "on_exhausted": policy}}}
    config = config.model_copy(update={"budget": BudgetConfig.model_validate(budget)})
    context = jobs_context(sqlite_engine, config)
    add_runs(sqlite_engine, [review_run("demo", utcnow(), model="tiny", tokens_in=1500)])

    if policy == "pause":
        with pytest.raises(ReviewFailed, match="model reviews of demo are paused: its monthly"):
            run_branch_review(context, "demo", BranchAsk(branch="feature"))
    else:
        found = run_branch_review(context, "demo", BranchAsk(branch="feature"))
        assert found.result.stored.row["reviewer_kind"] == "lint"
        assert any(n.startswith("reviewed by the linters instead") for n in found.result.notes)
    assert not [r for r in model_server.received if r.path.endswith("/chat/completions")]


def test_the_model_reviewer_sees_only_the_branchs_diff(
    branched: Repo, sqlite_engine: Engine, model_server: ModelServer, tmp_path: Path
) -> None:
    context = jobs_context(
        sqlite_engine, on_main(llm_config(branched, model_server)), tmp_path / "data"
    )
    found = run_branch_review(context, "demo", BranchAsk(branch="feature"))
    assert found.result.stored.row["reviewer_kind"] == "llm"
    asked = [r for r in model_server.received if r.path.endswith("/chat/completions")]
    prompts = "\n".join(r.body["messages"][1]["content"] for r in asked)
    # What the branch changed (a.py, c.py), not main's later d.py nor the untouched b.py.
    assert "### c.py" in prompts and "### a.py" in prompts
    assert "### d.py" not in prompts and "### b.py" not in prompts
