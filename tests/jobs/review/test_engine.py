"""The review engine on real repositories: cache, delta, findings over time, feedback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs.config.schema import Config
from jobs.review.engine import run_review
from jobs.review.feedback import record_feedback
from jobs.review.run_record import recorded_review
from jobs.review.targets import ReviewFailed
from storage.models import Finding, JobRun, Review
from tests.standins.model_server import ModelServer, Scripted
from tests.support.context import jobs_context
from tests.support.git_repo import Repo
from tests.support.reviews import Reviews, config_for, llm_config, review

CLEAN = "def add(a, b):\n    return a + b\n"


def runs(engine: Engine) -> list[JobRun]:
    with Session(engine) as session:
        return list(session.exec(select(JobRun).order_by(JobRun.id)))  # type: ignore[arg-type]


def reviews(engine: Engine) -> list[Review]:
    with Session(engine) as session:
        return list(session.exec(select(Review).order_by(Review.id)))  # type: ignore[arg-type]


def test_unchanged_head_is_a_cache_hit(engine: Engine, git_repo: Repo, lint: Reviews) -> None:
    head = git_repo.commit("one", **{"app.py": "import os\n"})
    first = lint()
    second = lint()
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second.review_id == first.review_id and second.commit_sha == head
    assert [f.id for f in second.findings] == [f.id for f in first.findings]
    assert len(reviews(engine)) == 1
    recorded = runs(engine)
    assert [(r.status, r.cache_hit, r.review_id) for r in recorded] == [
        ("ok", False, first.review_id),
        ("cached", True, first.review_id),
    ]
    assert recorded[0].job == "review:demo" and recorded[0].kind == "review"


def test_one_commit_is_a_delta_covering_only_it(
    engine: Engine, git_repo: Repo, tmp_path: Path, model_server: ModelServer
) -> None:
    first = git_repo.commit("base", **{"a.py": CLEAN, "b.py": CLEAN})
    config = llm_config(git_repo, model_server)
    review(engine, config, tmp_path)
    second = git_repo.commit("touch b", **{"b.py": CLEAN + "x = eval(input())\n"})
    result = review(engine, config, tmp_path)
    assert (result.kind, result.base_sha, result.commit_sha) == ("delta", first, second)
    assert result.stored.row["commits_covered"] == 1
    prompt = model_server.received[-1].body["messages"][1]["content"]
    assert "### b.py" in prompt and "### a.py" not in prompt
    assert result.stored.row["prompt_tokens"] > 0 and result.full_tree_tokens > 0


def test_a_reviewer_setting_change_makes_a_new_review(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("one", **{"app.py": "import os\nx = 1 == None\n"})
    first = review(engine, config_for(git_repo), tmp_path)
    changed = review(engine, config_for(git_repo, lint={"select": ["F401"]}), tmp_path)
    assert not changed.cache_hit and changed.review_id != first.review_id
    assert {f.category for f in changed.findings} == {"F401"}
    assert review(engine, config_for(git_repo, lint={"select": ["F401"]}), tmp_path).cache_hit


def test_rewritten_history_gets_a_full_review(git_repo: Repo, lint: Reviews) -> None:
    git_repo.commit("one", **{"a.py": CLEAN})
    git_repo.commit("two", **{"b.py": CLEAN})
    assert lint().kind == "full"
    git_repo.git("reset", "-q", "--hard", "HEAD~1")
    rewritten = git_repo.commit("two again", **{"c.py": CLEAN})
    result = lint()
    assert (result.kind, result.base_sha, result.commit_sha) == ("full", None, rewritten)


def test_full_on_demand_reviews_the_whole_tree(git_repo: Repo, lint: Reviews) -> None:
    git_repo.commit("one", **{"a.py": "import os\n"})
    lint()
    git_repo.commit("two", **{"b.py": CLEAN})
    delta = lint()
    full = lint(full=True)
    assert (delta.kind, full.kind, full.cache_hit) == ("delta", "full", False)
    assert full.review_id == delta.review_id  # the same cache key, replaced in place
    assert lint(full=True).cache_hit


def test_a_delta_reports_what_is_new_and_what_is_still_open(git_repo: Repo, lint: Reviews) -> None:
    git_repo.commit("base", **{"app.py": "import os\n\n\ndef f():\n    return 1\n"})
    base = lint()
    assert [(f.category, f.line, f.status) for f in base.findings] == [("F401", 1, "new")]
    git_repo.commit("add", **{"app.py": "import os\nimport sys\n\n\ndef f():\n    return 1\n"})
    delta = lint()
    states = sorted((f.message, f.line, f.status) for f in delta.findings)
    # `os` sits on an untouched line of a changed file: still open, not fixed.
    assert states == [
        ("`os` imported but unused", 1, "open"),
        ("`sys` imported but unused", 2, "new"),
    ]
    assert (delta.counts["new"], delta.counts["open"], delta.counts["fixed"]) == (1, 1, 0)


def test_a_finding_is_fixed_when_its_line_changes_and_it_is_gone(
    engine: Engine, git_repo: Repo, lint: Reviews
) -> None:
    git_repo.commit("base", **{"app.py": "import os\nx = 1\n", "other.py": "import re\n"})
    base = lint()
    assert base.counts["new"] == 2
    git_repo.commit("fix", **{"app.py": "x = 1\ny = 2\n"})
    delta = lint()
    by_message = {f.message: f.status for f in delta.findings}
    assert by_message == {"`os` imported but unused": "fixed", "`re` imported but unused": "open"}
    with Session(engine) as session:
        statuses = {f.path: f.status for f in session.exec(select(Finding))}
    assert statuses == {"app.py": "fixed", "other.py": "open"}


def os_unused_marked_a_false_positive(
    engine: Engine, git_repo: Repo, lint: Reviews, user: str
) -> None:
    """app.py imports `os` unused; reviewed, and the finding marked a false positive."""
    git_repo.commit("base", **{"app.py": "import os\n"})
    first = lint()
    record_feedback(engine, first.findings[0].id, user, "false_positive")


def test_false_positive_keeps_the_finding_out_of_the_next_review(
    engine: Engine, git_repo: Repo, lint: Reviews
) -> None:
    os_unused_marked_a_false_positive(engine, git_repo, lint, "slack:U1")
    git_repo.commit("more", **{"app.py": "import sys\n"})  # `os` removed, `sys` added …
    git_repo.commit("back", **{"app.py": "import os\n"})  # … and `os` reported again
    again = lint()
    assert again.counts["suppressed"] == 1 and again.findings == ()
    assert "suppressed 1" not in json.dumps(again.to_json()["findings"])


def test_suppressed_finding_in_an_untouched_file_stays_hidden(
    engine: Engine, git_repo: Repo, lint: Reviews
) -> None:
    os_unused_marked_a_false_positive(engine, git_repo, lint, "telegram:7")
    git_repo.commit("other file", **{"b.py": CLEAN})
    delta = lint()
    assert (delta.kind, delta.counts["suppressed"], delta.findings) == ("delta", 1, ())


def test_binary_and_renamed_files(git_repo: Repo, lint: Reviews) -> None:
    git_repo.commit("base", **{"old_name.py": "import os\n" + CLEAN})
    lint()
    git_repo.git("mv", "old_name.py", "new_name.py")
    git_repo.write("new_name.py", "import os\n" + CLEAN + "import json\n")
    git_repo.write("logo.bin", b"\x89PNG\0\0\x01binary")
    git_repo.commit("rename and binary")
    result = lint()
    assert ("logo.bin", "binary") in [(s.path, s.reason) for s in result.skipped_files]
    found = sorted((f.path, f.message, f.status) for f in result.findings)
    assert found == [
        ("new_name.py", "`json` imported but unused", "new"),
        ("new_name.py", "`os` imported but unused", "open"),  # renamed: the same finding
    ]


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (Scripted(content="I think the code is fine, really."), "JSON"),
        (Scripted(status=500, body="boom"), "HTTP 500"),
    ],
)
def test_a_failing_llm_leaves_the_earlier_review_intact(
    engine: Engine,
    git_repo: Repo,
    tmp_path: Path,
    model_server: ModelServer,
    step: Scripted,
    reason: str,
) -> None:
    git_repo.commit("base", **{"app.py": CLEAN})
    config = llm_config(git_repo, model_server)
    first = review(engine, config, tmp_path)
    git_repo.commit("next", **{"app.py": CLEAN + "z = 1\n"})
    model_server.script.append(step)
    with pytest.raises(ReviewFailed) as failure:
        review(engine, config, tmp_path)
    assert reason in failure.value.reason
    failed = runs(engine)[-1]
    assert failed.status == "failed" and reason in (failed.error or "")
    assert failed.id == failure.value.run_id and failed.model == "tiny"
    assert len(reviews(engine)) == 1
    git_repo.git("reset", "-q", "--hard", "HEAD~1")
    again = review(engine, config, tmp_path)
    assert again.cache_hit and again.review_id == first.review_id


def test_unknown_repo_and_local_paths(git_repo: Repo, lint: Reviews) -> None:
    git_repo.commit("one", **{"app.py": CLEAN})
    with pytest.raises(ReviewFailed, match="configured: demo"):
        lint(target="nope")
    with pytest.raises(ReviewFailed, match="unknown repository"):
        lint(target=str(git_repo.path))
    local = lint(target=str(git_repo.path), allow_local=True)
    assert local.repo == f"local:{git_repo.path.resolve()}"


def test_the_engine_records_no_run_what_runs_the_review_does(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("one", **{"app.py": CLEAN})
    context = jobs_context(engine, config_for(git_repo), tmp_path, runner_id="test:1")
    result = run_review(context, "demo")
    assert runs(engine) == [] and result.run_id is None
    assert result.run_columns()["status"] == "ok"
    again = recorded_review(context, "demo", trigger="chat")
    assert [(r.id, r.job, r.trigger, r.status, r.cache_key) for r in runs(engine)] == [
        (again.run_id, "review:demo", "chat", "cached", result.cache_key)
    ]


def test_a_remote_repo_is_cloned_into_the_data_dir_and_fetched_each_time(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("one", **{"app.py": CLEAN})
    config = Config.model_validate(
        {
            "repos": [{"name": "remote", "url": str(git_repo.path)}],
            "reviewer": {"lint": {"select": ["F"]}},
        }
    )
    first = review(engine, config, tmp_path, target="remote")
    assert (tmp_path / "repos" / "remote.git" / "HEAD").is_file()
    head = git_repo.commit("two", **{"app.py": CLEAN + "import os\n"})
    second = review(engine, config, tmp_path, target="remote")
    assert (second.kind, second.base_sha, second.commit_sha) == ("delta", first.commit_sha, head)
    assert review(engine, config, tmp_path, target="remote").cache_hit
    assert git_repo.git("status", "--porcelain") == ""
