"""The model reviewer through the engine, against a stand-in server that counts tokens
like a real one: splitting, not-reviewed files, truncation, notes and the figures."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs.config.schema import Config
from jobs.core.text import duration
from jobs.digest.job import build_digest
from jobs.digest.replies import digest_lines
from jobs.review.budget import CALL_FAILED, CUT_SHORT, HUNK_TOO_LARGE
from jobs.review.llm.calibration import StoredCalibration
from jobs.review.post import review_reply
from jobs.review.replies import not_reviewed_text, tokens_text
from jobs.review.targets import ReviewFailed
from storage.models import JobRun, TokenCalibration, utcnow
from tests.standins.model_server import ModelServer, Scripted
from tests.support.context import jobs_context
from tests.support.git_repo import Repo
from tests.support.reviews import Reviews, llm_config, review

CONTEXT = 2048


def module(n: int, lines: int = 14) -> str:
    return "".join(f"def handler_{n}_{i}(request):\n    return request.get('k{i}')\n"
                   for i in range(lines // 2))  # fmt: skip


def first_added_lines(body: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """path → first added line (number, text), for each file in a review prompt."""
    prompt = body["messages"][-1]["content"]
    found: dict[str, int] = {}
    path = None
    for line in prompt.splitlines():
        header = re.match(r"### (\S+) \[", line)
        if header:
            path = header.group(1)
        added = re.match(r"\+\s*(\d+) \| (.*)", line)
        if added and path is not None:
            found.setdefault(path, (int(added.group(1)), added.group(2)))
    return found


def finding_per_file(body: dict[str, Any]) -> str:
    """The stand-in model's answer: one finding on each file it was shown."""
    if "candidate findings" in body["messages"][-1]["content"]:
        return '{"keep": [0]}'
    findings = [
        {"path": p, "line": n, "severity": "warning", "category": "bug", "message": f"see {text!r}"}
        for p, (n, text) in first_added_lines(body).items()
    ]
    return json.dumps({"findings": findings})


@pytest.fixture
def llm(engine: Engine, git_repo: Repo, tmp_path: Path, model_server: ModelServer) -> Reviews:
    """git_repo as repository "demo", reviewed by the model server, which finds one
    thing in each file's first added line unless its script says otherwise."""
    model_server.responder = finding_per_file
    return Reviews(engine, llm_config(git_repo, model_server), tmp_path)


def small_context(git_repo: Repo, server: ModelServer, **llm: Any) -> Config:
    return llm_config(git_repo, server, context_tokens=CONTEXT, answer_tokens=1024, **llm)


@pytest.fixture
def small_server() -> Iterator[ModelServer]:
    """A model server with a CONTEXT-token window that finds one thing in each file."""
    server = ModelServer(context_tokens=CONTEXT)
    server.responder = finding_per_file
    yield server
    server.close()


def test_a_25_file_delta_is_split_across_calls_that_each_fit_the_context(
    engine: Engine, git_repo: Repo, tmp_path: Path, small_server: ModelServer
) -> None:
    git_repo.commit("base", **{"README.md": "# demo\n"})
    files = {f"pkg/mod_{n:02}.py": module(n, lines=10 + 3 * n) for n in range(25)}
    # One line (short of "minified") denser than a call's room for diff: not reviewable.
    files["pkg/table.py"] = "T = [" + "()," * 320 + "]\n"
    git_repo.commit("big change", **files)
    config = small_context(git_repo, small_server)
    review(engine, config, tmp_path)  # a full review first: the delta below builds on it
    head = git_repo.commit("touch all", **{p: t + "x = 1\n" for p, t in files.items()})
    result = review(engine, config, tmp_path)

    received = small_server.received
    delta_calls = [r for r in received if r.body["messages"][-1]["content"].count("x = 1")]
    assert len(delta_calls) > 3  # split, not skipped
    assert not any(r.refused for r in received)  # the server never said "too long"
    assert all(r.prompt_tokens + r.body["max_tokens"] <= CONTEXT for r in received)
    assert result.kind == "delta" and result.commit_sha == head
    reviewed = {f.path for f in result.findings if f.status == "new"}
    not_reviewed = {s.path: s.reason for s in result.skipped_files}
    assert reviewed | set(not_reviewed) == set(files)  # every file reviewed or listed
    # table.py's new line was reviewed; its first line never fits, so it stays listed.
    assert not_reviewed == {"pkg/table.py": HUNK_TOO_LARGE}
    assert reviewed == set(files)
    # The tokens are the server's own counts, summed over every call of this review.
    assert result.tokens["prompt"] == sum(r.prompt_tokens for r in delta_calls)
    reply = review_reply(result, config)
    assert any("1 file not reviewed (1 carried to the next review)" in b.text for b in reply.blocks)
    assert "hunk larger than the model's context (1): pkg/table.py" in not_reviewed_text(
        result.skipped_files
    )


def test_a_truncated_answer_is_not_cached_and_the_next_review_asks_again(
    git_repo: Repo, model_server: ModelServer, llm: Reviews
) -> None:
    git_repo.commit("one", **{"app.py": "x = eval(input())\n"})
    cut = '{"findings": [{"path": "app.py", "line": 1, "mess'
    model_server.script.append(Scripted(content=cut))  # one line: nothing smaller to ask
    first = llm()
    assert [(s.path, s.reason) for s in first.skipped_files] == [("app.py", CUT_SHORT)]
    calls = len(model_server.received)

    second = llm()  # same commit: asked again, not a cache hit
    assert not second.cache_hit and second.review_id == first.review_id
    assert len(model_server.received) == calls + 1
    assert second.skipped_files == () and [f.path for f in second.findings] == ["app.py"]
    assert second.kind == "full"  # the second try stands for the review it completes

    third = llm()
    assert third.cache_hit and len(model_server.received) == calls + 1


def test_a_file_left_unreviewed_is_reviewed_whole_at_the_next_commit(
    git_repo: Repo, model_server: ModelServer, llm: Reviews
) -> None:
    git_repo.commit("one", **{"app.py": "x = eval(input())\n", "b.py": "y = 1\n"})
    model_server.script.extend(Scripted(content='{"findings": [') for _ in range(4))
    first = llm()
    assert {s.reason for s in first.skipped_files} == {CUT_SHORT}
    git_repo.commit("two", **{"b.py": "y = 2\n"})
    asked = len(model_server.received)
    second = llm()
    prompts = [r.body["messages"][-1]["content"] for r in model_server.received[asked:]]
    assert second.kind == "delta" and second.skipped_files == ()
    assert any("### app.py [added]" in p for p in prompts)  # carried: the whole file at head
    assert {f.path for f in second.findings if f.status == "new"} >= {"app.py"}


def test_critique_garbage_is_noted_in_the_reply_and_json(
    engine: Engine, git_repo: Repo, tmp_path: Path, model_server: ModelServer
) -> None:
    git_repo.commit("one", **{"app.py": "x = eval(input())\n"})
    config = llm_config(git_repo, model_server, passes=2)
    first = {"findings": [{"path": "app.py", "line": 1, "message": "eval of input"}]}
    garbage = Scripted(content="Sure! All good.")
    model_server.script.extend([Scripted(content=json.dumps(first)), garbage])
    result = review(engine, config, tmp_path)
    expected = (
        "critique pass answered without usable JSON in 1 call; the first pass's findings were kept"
    )
    assert result.to_json()["notes"] == [expected]
    assert [f.message for f in result.findings] == ["eval of input"]
    reply = review_reply(result, config)
    assert f"Note: {expected}" in [b.text for b in reply.blocks]


def test_reply_json_run_row_and_digest_tell_the_same_token_figures(
    engine: Engine, git_repo: Repo, model_server: ModelServer, llm: Reviews
) -> None:
    git_repo.commit("base", **{f"m{n}.py": module(n, 30) for n in range(12)})
    started = len(model_server.received)
    llm()
    git_repo.commit("edit", **{"m3.py": module(3, 30) + "z = 3\n"})
    before = len(model_server.received)
    result = llm()
    cached = llm()
    assert started == 0 and cached.cache_hit

    sent = sum(r.prompt_tokens for r in model_server.received[before:])
    data = result.to_json()
    assert data["tokens"]["prompt"] == sent > 0
    assert data["tokens"]["completion"] > 0
    full = data["full_tree_tokens"]
    assert full > 5 * sent
    note = review_reply(result, llm.config).note
    assert tokens_text(data["tokens"], full) in note
    saved = f"{100 * (1 - sent / full):.0f}% saved"
    assert saved in note
    assert cached.to_json()["tokens"] == {"prompt": 0, "completion": 0}
    with Session(engine) as session:
        rows = session.exec(select(JobRun).order_by(JobRun.id)).all()  # type: ignore[arg-type]
    assert [r.tokens_in for r in rows][1:] == [sent, None]

    digest = build_digest(jobs_context(engine, llm.config), "day", utcnow() + timedelta(seconds=1))
    first_full = rows[0].tokens_in or 0
    caching = digest.caching
    assert caching.review_tokens_in == first_full + sent
    assert caching.full_review_tokens_in is not None and caching.full_review_tokens_in > full
    # The chat digest tells the story; its figures travel in the digest's JSON.
    assert digest.model_dump(mode="json")["caching"]["review_tokens_in"] == first_full + sent


def test_a_lint_review_claims_time_saved_and_no_tokens(
    engine: Engine, git_repo: Repo, lint: Reviews
) -> None:
    git_repo.commit("one", **{"app.py": "import os\n"})
    made = lint()
    cached = lint()
    for result in (made, cached):
        assert (result.to_json()["tokens"], result.full_tree_tokens) == (
            {"prompt": 0, "completion": 0}, 0,
        )  # fmt: skip
        assert "prompt" not in review_reply(result, lint.config).note
    # A cached answer is a night without news: one line, nothing to say about tokens.
    assert review_reply(cached, lint.config).note == ""
    assert f" · took {duration(made.duration_ms)}" in review_reply(made, lint.config).note
    digest = build_digest(jobs_context(engine, lint.config), "day", utcnow() + timedelta(seconds=1))
    assert "review tokens" not in "\n".join(digest_lines(digest))


def test_calibration_is_learnt_from_usage_and_kept_in_the_database(
    engine: Engine, git_repo: Repo, tmp_path: Path, model_server: ModelServer
) -> None:
    git_repo.commit("one", **{"app.py": module(1, 40)})
    review(engine, llm_config(git_repo, model_server), tmp_path)
    with Session(engine) as session:
        (row,) = session.exec(select(TokenCalibration)).all()
    assert row.model == "tiny" and row.samples >= 1 and 0.2 < row.ratio < 1.0
    assert row.reported_total == sum(r.prompt_tokens for r in model_server.received)
    assert 0 < row.reported_total < row.estimated_total  # the raw estimate errs high
    loaded = StoredCalibration(engine).load("tiny")
    assert (loaded.ratio, loaded.samples, loaded.reported_total) == (
        row.ratio, row.samples, row.reported_total,
    )  # fmt: skip
    git_repo.commit("two", **{"app.py": module(2, 40)})
    review(engine, llm_config(git_repo, model_server), tmp_path)
    with Session(engine) as session:
        (again,) = session.exec(select(TokenCalibration)).all()
    assert again.samples == len(model_server.received)  # a second review adds, never twice


def test_a_second_try_reviews_the_same_delta_and_keeps_each_findings_state(
    git_repo: Repo, model_server: ModelServer, llm: Reviews
) -> None:
    git_repo.commit("one", **{"a.py": "a = eval(input())\n"})
    llm()
    base = git_repo.git("rev-parse", "HEAD")
    git_repo.commit("two", **{"b.py": "b = 1\n", "c.py": "c = 2\n"})
    model_server.script.extend(Scripted(content='{"findings": [') for _ in range(3))
    cut = llm()
    assert {s.reason for s in cut.skipped_files} == {CUT_SHORT}

    again = llm()
    assert (again.review_id, again.kind, again.base_sha) == (cut.review_id, "delta", base)
    assert again.skipped_files == ()
    states = {f.path: f.status for f in again.findings}
    assert states == {"a.py": "open", "b.py": "new", "c.py": "new"}
    assert (again.counts["new"], again.counts["open"]) == (2, 1)


def test_a_call_failing_mid_review_keeps_what_was_reviewed_and_lists_the_rest(
    engine: Engine, git_repo: Repo, tmp_path: Path, small_server: ModelServer
) -> None:
    git_repo.commit("many", **{f"m{n:02}.py": module(n, 8) for n in range(6)})
    config = small_context(git_repo, small_server, max_retries=0, parallel=1)  # in order
    small_server.script.extend([Scripted(content=None), Scripted(status=500, body="boom")])
    first = review(engine, config, tmp_path)
    answered = len(small_server.received)
    second = review(engine, config, tmp_path)  # asked again: not a cache hit

    left = {s.path for s in first.skipped_files if s.reason == CALL_FAILED}
    found = {f.path for f in first.findings}
    assert answered == 2 and found and left and found.isdisjoint(left)
    assert found | left == {f"m{n:02}.py" for n in range(6)}
    (note,) = first.notes
    assert "a model call failed after 1 part of the diff was reviewed (HTTP 500" in note
    assert f"{len(left)} files left for the next review" in note
    assert not second.cache_hit and second.skipped_files == () and second.notes == ()
    assert {f.path for f in second.findings} == found | left


def test_a_failed_review_still_records_the_tokens_its_calls_cost(
    engine: Engine, git_repo: Repo, tmp_path: Path, model_server: ModelServer
) -> None:
    git_repo.commit("one", **{"app.py": "x = eval(input())\n"})
    model_server.script.append(Scripted(content="Looks fine to me."))
    with pytest.raises(ReviewFailed, match="model answered with no JSON") as failed:
        review(engine, llm_config(git_repo, model_server), tmp_path)
    # The scheduler records its own run rows from this.
    assert failed.value.tokens_in == model_server.received[0].prompt_tokens
    with Session(engine) as session:
        (row,) = session.exec(select(JobRun)).all()
    assert (row.status, row.tokens_in) == ("failed", model_server.received[0].prompt_tokens)
    assert row.tokens_out and row.tokens_out > 0


def test_a_full_reviews_own_cost_is_its_full_tree_figure(
    engine: Engine, git_repo: Repo, tmp_path: Path, model_server: ModelServer
) -> None:
    git_repo.commit("one", **{f"m{n}.py": module(n, 20) for n in range(6)})
    config = llm_config(git_repo, model_server)
    made = review(engine, config, tmp_path)
    sent = sum(r.prompt_tokens for r in model_server.received)
    assert made.kind == "full" and made.full_tree_tokens == made.tokens["prompt"] == sent
    note = review_reply(made, config).note
    assert "prompt" in note and "full review:" not in note  # it is one: nothing to compare with
    cached = review(engine, config, tmp_path)
    assert (cached.tokens, cached.full_tree_tokens) == ({"prompt": 0, "completion": 0}, sent)
