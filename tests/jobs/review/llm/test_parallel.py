"""Calls of one model review in flight at once: the same review as one call at a
time (findings, notes, tokens, what was not reviewed), each call within the context,
and a server that answers 429 when full slows the review down instead of failing it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from jobs.config.schema import LlmReviewerConfig
from jobs.review.budget import CALL_FAILED
from jobs.review.llm.gate import Gate
from jobs.review.llm.reviewer import LlmReviewer
from jobs.review.pipeline import prepare_review
from jobs.review.reviewers import ReviewerOutput, ReviewInput
from tests.jobs.review.llm.test_reviewer import finding_per_file, first_added_lines, module
from tests.standins.model_server import ModelServer
from tests.support.git_repo import Repo

CONTEXT, ANSWER = 2048, 512
FILES = 16


def answers(body: dict[str, Any]) -> str:
    """One finding a file; a piece showing m05.py with others gets an answer too long
    to finish (so it is cut in halves), and m03.py's critique is garbage."""
    prompt = body["messages"][-1]["content"]
    shown = first_added_lines(body)
    if "candidate findings" in prompt:
        return "no idea" if "### m03.py" in prompt else '{"keep": [0]}'
    if "m05.py" in shown and len(shown) > 1:
        return json.dumps({"findings": [], "why": "word " * 2000})
    return finding_per_file(body)


@pytest.fixture
def review_input(git_repo: Repo) -> ReviewInput:
    base = git_repo.commit("base", keep="x\n")
    head = git_repo.commit("many", **{f"m{n:02}.py": module(n, 12) for n in range(FILES)})
    return prepare_review(git_repo.path, base, head, budget_tokens=10**9)


@pytest.fixture
def servers() -> Iterator[tuple[ModelServer, ModelServer]]:
    """Two stand-ins answering alike: one for each way of reviewing."""
    pair = (ModelServer(context_tokens=CONTEXT), ModelServer(context_tokens=CONTEXT))
    for server in pair:
        server.responder = answers
    yield pair
    for server in pair:
        server.close()


def review(
    server: ModelServer, review_input: ReviewInput, waits: list[float] | None = None, **config: Any
) -> ReviewerOutput:
    settings = LlmReviewerConfig(
        base_url=server.url,
        model="tiny",
        context_tokens=CONTEXT,
        answer_tokens=ANSWER,
        timeout_s=10,
        **{"passes": 2, **config},
    )
    record = (waits if waits is not None else []).append
    return LlmReviewer(settings, backoff_s=0.01, sleep=record).review(review_input)


def same_review(one: ReviewerOutput, other: ReviewerOutput) -> None:
    assert one.findings == other.findings and one.findings  # in the same order
    assert one.notes == other.notes and one.notes
    assert one.not_reviewed == other.not_reviewed
    assert (one.tokens_in, one.tokens_out) == (other.tokens_in, other.tokens_out)
    assert one.dropped_outside_diff == other.dropped_outside_diff


def test_four_calls_are_in_flight_at_once_and_the_review_is_the_one_at_a_time_review(
    review_input: ReviewInput, servers: tuple[ModelServer, ModelServer]
) -> None:
    alone, together = servers
    sequential = review(alone, review_input, parallel=1)
    together.hold_until = 4  # every call waits until four are being served at once
    parallel = review(together, review_input, parallel=4)

    assert together.peak_in_flight == 4 and not together.hold_timed_out
    assert alone.peak_in_flight == 1
    same_review(parallel, sequential)
    assert len(together.received) == len(alone.received) > 2 * FILES // 4
    cut = [r for r in together.received if "word word" in json.dumps(r.body)]
    assert not cut  # answers are not prompts: the cut piece was asked again in halves
    assert {f.path for f in parallel.findings} == {f"m{n:02}.py" for n in range(FILES)}
    assert any("critique pass answered without usable JSON" in n for n in parallel.notes)
    assert all(r.prompt_tokens + ANSWER <= CONTEXT for r in together.received)


def test_a_server_answering_429_when_full_slows_the_review_instead_of_failing_it(
    review_input: ReviewInput, servers: tuple[ModelServer, ModelServer]
) -> None:
    alone, full = servers
    sequential = review(alone, review_input, parallel=1)
    full.slots, full.busy_when_full, full.retry_after = 2, True, "3"
    # The first two calls are served together, and stay until a third found it full.
    full.hold_until, full.hold_until_turned_away = 2, 1
    waits: list[float] = []
    parallel = review(full, review_input, waits, parallel=4, max_retries=0)

    assert full.answered_busy > 0 and full.peak_in_flight == 2 and not full.hold_timed_out
    assert waits and set(waits) == {3.0}  # each retry after the server's Retry-After
    same_review(parallel, sequential)


def test_a_call_failing_among_parallel_ones_keeps_every_answer_and_lists_the_rest(
    review_input: ReviewInput, servers: tuple[ModelServer, ModelServer]
) -> None:
    def failing(body: dict[str, Any]) -> str:
        shown = first_added_lines(body)
        return "Looks fine to me." if "m09.py" in shown else finding_per_file(body)

    alone, together = servers
    for server in servers:
        server.responder = failing
    sequential = review(alone, review_input, parallel=1, passes=1)
    parallel = review(together, review_input, parallel=4, passes=1)

    def failed(out: ReviewerOutput) -> set[str]:
        return {s.path for s in out.not_reviewed if s.reason == CALL_FAILED}

    assert "m09.py" in failed(sequential) and "m09.py" in failed(parallel)
    # The calls in flight when it failed finish and count; none starts after.
    assert set(sequential.findings) <= set(parallel.findings)
    assert failed(parallel) <= failed(sequential)
    every = {f"m{n:02}.py" for n in range(FILES)}
    assert {f.path for f in parallel.findings} | failed(parallel) == every
    assert len(together.received) <= len(alone.received) + 3
    assert parallel.tokens_in == sum(r.prompt_tokens for r in together.received)  # all paid
    (note,) = parallel.notes
    assert "a model call failed after" in note and "model answered with no JSON" in note


def test_the_gate_halves_on_busy_answers_and_grows_back_one_at_a_time() -> None:
    gate = Gate(8)
    gate.busy()
    gate.busy()
    assert gate.limit == 2
    for _ in range(2):
        gate.served()
    assert gate.limit == 3
    for _ in range(3 + 4 + 5 + 6):
        gate.served()
    assert gate.limit == 7
    gate.busy()
    assert gate.limit == 3
    for _ in range(50):
        gate.served()
    assert gate.limit == 8  # never above where it started
