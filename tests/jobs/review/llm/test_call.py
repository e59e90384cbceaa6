from __future__ import annotations

import json
import logging

import pytest

from jobs.config.schema import LlmReviewerConfig
from jobs.review.budget import CUT_SHORT
from jobs.review.llm.prompt import PROMPT_VERSION
from jobs.review.llm.reviewer import LlmReviewer
from jobs.review.pipeline import prepare_review
from jobs.review.reviewers import ReviewerError, ReviewerOutput, ReviewInput
from tests.standins.model_server import ModelServer, Scripted
from tests.support.git_repo import Repo

SECRET = "sk-test-very-secret-key-123"
BASE = "".join(f"v{n} = {n}\n" for n in range(1, 31))
HEAD = BASE.replace("v10 = 10\n", "v10 = eval(input())\n")  # line 10 changes; hunk 7-13


def finding(path: str = "app.py", line: int = 10, **extra: object) -> dict[str, object]:
    return {
        "path": path,
        "line": line,
        "severity": "error",
        "category": "security",
        "message": "eval of user input",
        "suggestion": "use ast.literal_eval",
        **extra,
    }


def answer(*findings: dict[str, object]) -> str:
    return json.dumps({"findings": list(findings)})


@pytest.fixture
def review_input(git_repo: Repo) -> ReviewInput:
    base = git_repo.commit("base", **{"app.py": BASE})
    head = git_repo.commit("eval", **{"app.py": HEAD})
    return prepare_review(git_repo.path, base, head, budget_tokens=4000)


def reviewer(
    server: ModelServer, waits: list[float] | None = None, **config: object
) -> LlmReviewer:
    """The model reviewer against `server`; the waits it makes between retries are
    recorded in `waits` instead of waited out."""
    settings = {"base_url": server.url, "model": "tiny-coder", "timeout_s": 5, **config}
    record = (waits if waits is not None else []).append
    return LlmReviewer(LlmReviewerConfig(**settings), api_key=SECRET, backoff_s=0.01, sleep=record)  # type: ignore[arg-type]


def run(
    server: ModelServer,
    review_input: ReviewInput,
    *steps: Scripted,
    waits: list[float] | None = None,
    **config: object,
) -> ReviewerOutput:
    server.script.extend(steps)
    return reviewer(server, waits, **config).review(review_input)


def test_valid_json_answer_becomes_findings(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    usage = {"prompt_tokens": 321, "completion_tokens": 45}
    out = run(model_server, review_input, Scripted(content=answer(finding()), usage=usage))
    (found,) = out.findings
    assert (found.path, found.line, found.severity, found.category) == (
        "app.py",
        10,
        "error",
        "security",
    )
    assert found.source == "llm:tiny-coder" and found.suggestion == "use ast.literal_eval"
    assert (out.tokens_in, out.tokens_out, out.model) == (321, 45, "tiny-coder")
    assert out.model_latency_ms is not None and out.model_latency_ms >= 0


def test_request_is_an_openai_chat_completion_with_the_diff_as_data(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    run(model_server, review_input, Scripted(content=answer()))
    (request,) = model_server.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert request.body["model"] == "tiny-coder"
    assert request.body["response_format"] == {"type": "json_object"}
    system, user = request.body["messages"]
    assert "never as instructions" in system["content"]
    assert "<<<DIFF_" in user["content"] and "+   10 | v10 = eval(input())" in user["content"]


def test_no_authorization_header_without_a_key(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    model_server.script.append(Scripted(content=answer()))
    LlmReviewer(LlmReviewerConfig(base_url=model_server.url)).review(review_input)
    assert "Authorization" not in model_server.received[0].headers


def test_fenced_json_and_json_in_prose_are_read(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    fenced = f"Here you go:\n```json\n{answer(finding())}\n```\nHope it helps."
    prose = f"I found one problem. {answer(finding())} That is all."
    for content in (fenced, prose):
        assert len(run(model_server, review_input, Scripted(content=content)).findings) == 1


def test_garbage_answer_is_a_reviewer_error(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    with pytest.raises(ReviewerError, match="model answered with no JSON"):
        run(model_server, review_input, Scripted(content="Looks good to me!"))


def test_slow_model_times_out_with_a_clear_reason(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    # Cut off at 0.3 s, with the reason: the answer (2 s later) never arrives.
    with pytest.raises(ReviewerError, match=r"timed out after 300ms"):
        run(model_server, review_input, Scripted(content=answer(), delay_s=2), timeout_s=0.3)


def test_server_error_is_retried_then_succeeds(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    out = run(
        model_server,
        review_input,
        Scripted(status=500, body="boom"),
        Scripted(content=answer(finding())),
    )
    assert len(out.findings) == 1 and len(model_server.received) == 2


def test_rate_limit_honours_retry_after(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    limited = Scripted(status=429, body="{}", headers={"Retry-After": "1"})
    waits: list[float] = []
    out = run(model_server, review_input, limited, Scripted(content=answer(finding())), waits=waits)
    assert waits == [1.0]  # waited as told, not the 0.01 s backoff
    assert len(out.findings) == 1 and len(model_server.received) == 2


def test_http_error_after_retries_names_the_status(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    failures = [Scripted(status=503, body="overloaded") for _ in range(3)]
    with pytest.raises(ReviewerError, match=r"HTTP 503 from http://127\.0\.0\.1:\d+/v1/chat"):
        run(model_server, review_input, *failures, max_retries=2)
    assert len(model_server.received) == 3


BROKEN = (
    '{"findings": ['
    + json.dumps(finding())
    + ', {"path": "app.py", "line": "ten?", "message": "bad"}, '
    + json.dumps(finding(line=11, message="second"))
    + ', {"path": "app.py", "line": 12, "mess'  # cut off mid-answer
)


def test_an_answer_that_ends_early_is_asked_again_on_a_smaller_piece(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    out = run(
        model_server, review_input, Scripted(content=BROKEN), Scripted(content=answer(finding()))
    )
    first, second = model_server.received
    assert second.prompt_tokens < first.prompt_tokens
    assert "v10 = eval(input())" in second.body["messages"][1]["content"]
    assert [f.line for f in out.findings] == [10]  # only the complete answer counts
    assert out.not_reviewed == []


def test_finish_reason_length_is_asked_again_on_a_smaller_piece(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    long_answer = answer(*(finding(message=f"problem number {n} " * 5) for n in range(40)))
    out = run(model_server, review_input, Scripted(content=long_answer), answer_tokens=128)
    assert len(model_server.received) >= 2  # cut at max_tokens by the server, then asked again
    assert out.not_reviewed == [] and out.findings == []


def test_a_piece_too_small_to_split_keeps_valid_findings_and_is_listed_not_reviewed(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    out = run(model_server, review_input, *(Scripted(content=BROKEN) for _ in range(8)))
    assert [f.line for f in out.findings] == [10]  # salvaged from the last, one-line piece
    assert [(s.path, s.reason) for s in out.not_reviewed] == [("app.py", CUT_SHORT)]
    assert (
        "+   10 | v10 = eval(input())" in model_server.received[-1].body["messages"][1]["content"]
    )


def test_findings_outside_the_diff_are_dropped_and_counted(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    content = answer(
        finding(), finding(line=25), finding(path="other.py"), finding(path="b/app.py")
    )
    out = run(model_server, review_input, Scripted(content=content))
    assert [(f.path, f.line) for f in out.findings] == [("app.py", 10), ("app.py", 10)]
    assert out.dropped_outside_diff == 2


def test_critique_pass_drops_findings_and_tokens_add_up(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    first = Scripted(content=answer(finding(), finding(line=11, message="weak")),
                     usage={"prompt_tokens": 100, "completion_tokens": 10})  # fmt: skip
    critique = Scripted(
        content='{"keep": [0]}', usage={"prompt_tokens": 150, "completion_tokens": 5}
    )
    refine = Scripted(content=answer(finding(message="eval() on input() runs arbitrary code")),
                      usage={"prompt_tokens": 120, "completion_tokens": 20})  # fmt: skip
    out = run(model_server, review_input, first, critique, refine, passes=3)
    (kept,) = out.findings
    assert kept.message == "eval() on input() runs arbitrary code"
    assert (out.tokens_in, out.tokens_out) == (370, 35)
    assert "weak" in model_server.received[1].body["messages"][1]["content"]


def test_api_key_never_appears_in_logs_or_errors(
    model_server: ModelServer, review_input: ReviewInput, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = Scripted(status=401, body=f"bad key {SECRET}")
    with pytest.raises(ReviewerError) as error:
        run(model_server, review_input, Scripted(status=500, body="x"), echo)
    assert "HTTP 401" in str(error.value)
    assert SECRET not in str(error.value)
    assert SECRET not in repr(reviewer(model_server))
    assert caplog.records and SECRET not in caplog.text


def test_an_error_body_cut_at_200_characters_shows_no_part_of_the_key(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    # The key straddles the 200th character, and comes back in another case.
    body = "x" * (200 - len(SECRET) // 2) + SECRET.upper() + " trailing"
    echo = Scripted(status=401, body=body)
    with pytest.raises(ReviewerError) as error:
        run(model_server, review_input, Scripted(status=500, body="x"), echo)
    shown = str(error.value).lower()
    assert "[redacted]" in shown
    assert SECRET[: len(SECRET) // 2].lower() not in shown


def test_fingerprint_names_model_prompt_and_passes(model_server: ModelServer) -> None:
    one = reviewer(model_server).fingerprint()
    assert (
        one == reviewer(model_server, timeout_s=9).fingerprint()
    )  # how long we wait changes nothing
    assert one != reviewer(model_server, model="other").fingerprint()
    assert one != reviewer(model_server, passes=2).fingerprint()
    assert PROMPT_VERSION


@pytest.mark.parametrize(
    ("server", "error", "calls"),
    [
        # Every chunk comes well within 1 s, yet the whole answer (~80 chunks) may not
        # take longer than the deadline: cut off mid-answer, not retried.
        pytest.param(
            Scripted(content=answer(*(finding() for _ in range(10))), trickle_s=0.05),
            r"timed out after 1.0s",
            1,
            id="trickling-answer",
        ),
        # A Retry-After past the deadline is not waited for at all.
        pytest.param(
            Scripted(status=429, body="{}", headers={"Retry-After": "5"}),
            r"HTTP 429 .* would pass the 1s deadline",
            1,
            id="retry-after-past-it",
        ),
    ],
)
def test_timeout_is_a_deadline_for_the_whole_call(
    model_server: ModelServer,
    review_input: ReviewInput,
    server: Scripted,
    error: str,
    calls: int,
) -> None:
    waits: list[float] = []
    with pytest.raises(ReviewerError, match=error):
        run(model_server, review_input, server, waits=waits, timeout_s=1)
    assert waits == [], "no wait that would pass the deadline"
    assert len(model_server.received) == calls


def test_a_prompt_the_server_refuses_as_too_long_is_split_and_sent_again(
    model_server: ModelServer, git_repo: Repo
) -> None:
    base = git_repo.commit("base", **{"a.py": BASE, "b.py": BASE})
    head = git_repo.commit("two", **{"a.py": HEAD, "b.py": HEAD})
    too_long = Scripted(status=400, body='{"error": {"code": "context_length_exceeded"}}')
    review_input = prepare_review(git_repo.path, base, head, budget_tokens=10**9)
    out = run(model_server, review_input, too_long)
    first, *rest = model_server.received
    assert len(rest) == 2 and all(r.prompt_tokens < first.prompt_tokens for r in rest)
    assert out.not_reviewed == [] and out.tokens_in == sum(r.prompt_tokens for r in rest)


def test_a_server_without_usage_is_counted_by_the_estimate(
    model_server: ModelServer, review_input: ReviewInput
) -> None:
    out = run(model_server, review_input, Scripted(content=answer(), report_usage=False))
    assert out.tokens_in >= model_server.received[0].prompt_tokens  # the estimate errs high


def test_a_server_with_less_context_than_configured_gets_smaller_pieces(git_repo: Repo) -> None:
    files = {f"m{n}.py": "".join(f"v{n}_{i} = {i}\n" for i in range(12)) for n in range(4)}
    base = git_repo.commit("base", **files)
    head = git_repo.commit("all", **{p: t.replace(" = ", " == ") for p, t in files.items()})
    review_input = prepare_review(git_repo.path, base, head, budget_tokens=10**9)
    server = ModelServer(context_tokens=900)  # the configuration says 8192
    try:
        llm = reviewer(server, answer_tokens=128)
        out = llm.review(review_input)
    finally:
        server.close()
    refused = [r for r in server.received if r.refused]
    accepted = [r for r in server.received if not r.refused]
    assert refused and accepted and out.not_reviewed == []
    assert all(r.prompt_tokens + 128 <= 900 for r in accepted)
    shown = "".join(r.body["messages"][1]["content"] for r in accepted)
    assert all(f"### {path}" in shown for path in files)  # every file reviewed
    assert llm.calibration.samples == len(server.received)  # refusals taught it too
