"""A model server is untrusted: an endless or huge answer fails its call at the
byte cap, nested JSON is a reason rather than a RecursionError, and a broken answer
costs time linear in its size."""

from __future__ import annotations

import json

import pytest

from jobs.config.schema import LlmReviewerConfig
from jobs.core import bounded_json
from jobs.review.llm.answer import ends_early, extract_json, parse_findings
from jobs.review.llm.reviewer import LlmReviewer
from jobs.review.pipeline import prepare_review
from jobs.review.reviewers import ReviewerError, ReviewerOutput, ReviewInput
from tests.standins.model_server import ModelServer, Scripted
from tests.support.git_repo import Repo

DEEP = 5000
FINDING = {"path": "app.py", "line": 2, "message": "eval of user input", "severity": "error"}


@pytest.fixture
def review_input(git_repo: Repo) -> ReviewInput:
    base = git_repo.commit("base", **{"app.py": "x = 1\n"})
    head = git_repo.commit("eval", **{"app.py": "x = 1\ny = eval(input())\n"})
    return prepare_review(git_repo.path, base, head, budget_tokens=4000)


def run(
    server: ModelServer, review_input: ReviewInput, step: Scripted, **config: object
) -> ReviewerOutput:
    server.script.append(step)
    settings = LlmReviewerConfig.model_validate(
        {"base_url": server.url, "model": "tiny", "timeout_s": 20, **config}
    )
    return LlmReviewer(settings, api_key=None, backoff_s=0.01).review(review_input)


def test_an_endless_answer_fails_the_call_at_the_byte_cap(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    with pytest.raises(ReviewerError, match=r"answer larger than 1 MB; the rest was not read"):
        run(model_server, review_input, Scripted(flood_bytes=-1), max_answer_mb=1)
    # The server got to write about the cap (plus what the socket buffers held), no more.
    assert model_server.flooded < 16 * 1024 * 1024


def test_a_huge_error_body_is_capped_too(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    huge = Scripted(status=500, flood_bytes=50 * 1024 * 1024)
    with pytest.raises(ReviewerError, match="answer larger than 1 MB"):
        run(model_server, review_input, huge, max_answer_mb=1, max_retries=0)


@pytest.mark.parametrize(
    "content",
    ["[" * DEEP + "]" * DEEP, '{"findings": ' + "[" * DEEP + "]" * DEEP + "}", "{" * DEEP],
    ids=["nested list", "nested findings", "unclosed"],
)
def test_a_deeply_nested_answer_is_a_reason_not_a_crash(
    model_server: ModelServer, review_input: ReviewInput, content: str
) -> None:
    with pytest.raises(ReviewerError, match="nested deeper than 64 levels"):
        # Room for the whole answer: the stand-in cuts one longer than max_tokens.
        run(
            model_server,
            review_input,
            Scripted(content=content),
            answer_tokens=8000,
            context_tokens=32768,
        )


def test_a_deeply_nested_envelope_is_a_reason_not_a_crash(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    envelope = '{"choices": ' + "[" * DEEP + "]" * DEEP + "}"
    with pytest.raises(ReviewerError, match="endpoint answered with JSON nested deeper"):
        run(model_server, review_input, Scripted(body=envelope))


def test_findings_inside_prose_and_a_cut_answer_are_still_salvaged() -> None:
    good = json.dumps(FINDING)
    prose = f'Here you go: {{not json}} and then {{"findings": [{good}]}} thanks'
    assert extract_json(prose) == {"findings": [FINDING]}
    cut = '{"findings": [' + good + ", " + good[:20]
    assert ends_early(cut)
    findings, invalid = parse_findings(cut, "llm")
    assert [f.line for f in findings] == [2] and invalid == 0
    assert not ends_early("no json here {at all}") and not ends_early(prose)


def test_every_span_is_found_in_one_pass() -> None:
    text = 'a {"x": [1, {"y": "}"}]} b [2] {"open": ['
    spans = [(s.start, s.end, s.depth) for s in bounded_json.scan(text)]
    assert spans == [(2, 24, 1), (8, 23, 2), (12, 22, 3), (27, 30, 1), (31, -1, 1), (40, -1, 2)]
    with pytest.raises(bounded_json.TooDeep):
        bounded_json.scan("[" * 65)
    assert bounded_json.loads("[" * 64 + "]" * 64) is not None
