"""A reviewer backed by any OpenAI-compatible chat-completions endpoint.

Every reviewable file is reviewed: the diff is planned into calls that fit the
model's context (jobs.review.sizing), a call whose answer is cut short is retried
on a smaller piece, and what still cannot be reviewed is returned as
`not_reviewed` with the reason. Prompt sizes use a per-model calibration learnt
from the `usage` the server reports.

Synchronous on purpose (httpx.Client): the caller runs it off the event loop. The
API key goes into the Authorization header only, and is never logged or put in
an error message.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from jobs.config import LlmReviewerConfig
from jobs.review.budget import CUT_SHORT, HUNK_TOO_LARGE, SkippedFile
from jobs.review.diff import FileDiff
from jobs.review.finding import Finding
from jobs.review.llm_answer import ends_early, keep_in_diff, parse_findings, parse_keep_ids
from jobs.review.prompt import (
    PROMPT_VERSION,
    Message,
    critique_messages,
    refine_messages,
    review_messages,
)
from jobs.review.reviewers import ReviewerError, ReviewerOutput, ReviewInput, reviewer_fingerprint
from jobs.review.sizing import PromptSizer, files_at, full_tree_tokens
from jobs.review.split import Piece, halves
from jobs.review.tokens import Calibration, estimate_message_tokens, estimate_tokens

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT_S = 60.0
# llama.cpp: "exceeds the available context size"; vLLM: "maximum context length";
# OpenAI: "context_length_exceeded".
_CONTEXT_EXCEEDED = re.compile(r"context (length|size|window)|context_length_exceeded", re.I)
# How many prompt tokens a refusal says it counted: vLLM "(2100 in the messages, …",
# llama.cpp "n_prompt_tokens": 2100.
_PROMPT_COUNT = re.compile(r"(\d+) in the messages|\"n_prompt_tokens\"\s*:\s*(\d+)")
UNLIMITED_TOKENS = 10**12


class CalibrationStore(Protocol):
    def load(self, model: str) -> Calibration: ...

    def save(self, calibration: Calibration, new_samples: int) -> None: ...


class _PromptTooLarge(Exception):
    """The server refused the prompt as larger than its context (HTTP 400), perhaps
    saying how many tokens it counted."""

    def __init__(self, reported_tokens: int | None = None) -> None:
        super().__init__()
        self.reported_tokens = reported_tokens


@dataclass
class _Answer:
    content: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    model: str
    cut_short: bool  # finish_reason "length"
    reported: bool  # tokens_in came from the server's usage (not our estimate)


@dataclass
class _Tally:
    """What one review's calls add up to."""

    answers: list[_Answer] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    dropped: int = 0
    not_reviewed: dict[str, str] = field(default_factory=dict)  # path → reason
    notes: Counter[str] = field(default_factory=Counter)
    samples: int = 0


class LlmReviewer:
    kind = "llm"

    def __init__(
        self,
        config: LlmReviewerConfig | None = None,
        api_key: str | None = None,
        *,
        backoff_s: float = 1.0,
        calibrations: CalibrationStore | None = None,
    ) -> None:
        self.config = config or LlmReviewerConfig()
        self._api_key = api_key
        self._backoff_s = backoff_s
        self._calibrations = calibrations
        self.calibration = Calibration(self.config.model)
        self._loaded = False

    def __repr__(self) -> str:  # never show the key
        return f"LlmReviewer(model={self.config.model!r}, base_url={self.config.base_url!r})"

    def fingerprint(self) -> str:
        c = self.config
        options = {
            "prompt": PROMPT_VERSION, "passes": c.passes, "temperature": c.temperature,
            "context_tokens": c.context_tokens, "answer_tokens": c.answer_tokens,
        }  # fmt: skip
        return reviewer_fingerprint(self.kind, c.model, options)

    def budget_tokens(self) -> int:
        return UNLIMITED_TOKENS  # this reviewer splits the diff across calls itself

    def sizer(self) -> PromptSizer:
        if not self._loaded and self._calibrations is not None:
            self.calibration = self._calibrations.load(self.config.model)
        self._loaded = True
        return PromptSizer(self.config, self.calibration)

    def full_tree_tokens(self, review_input: ReviewInput) -> int:
        """Prompt tokens a full review of the input's commit would send (review pass)."""
        return full_tree_tokens(review_input.repo, review_input.head_sha, self.sizer())

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        """Each planned piece: pass 1 finds; pass 2 (critique) drops weak findings;
        pass 3 refines them. Tokens and latency are summed over every call."""
        files = self._with_carried(review_input)
        if not files:
            return ReviewerOutput(model=self.config.model, not_reviewed=[])
        sizer = self.sizer()
        plan = sizer.plan(files)
        tally = _Tally()
        for part in plan.too_large:
            tally.not_reviewed.setdefault(part.path, HUNK_TOO_LARGE)
        queue: list[Piece] = list(plan.pieces)
        try:
            with self._client() as client:
                while queue:
                    piece = queue.pop(0)
                    smaller = self._review_piece(client, piece, tally)
                    if smaller is not None:
                        queue[:0] = smaller
        finally:  # what the server taught us holds even if a later call failed
            if self._calibrations is not None and tally.samples:
                self._calibrations.save(self.calibration, tally.samples)
        answers = tally.answers
        return ReviewerOutput(
            findings=tally.findings,
            dropped_outside_diff=tally.dropped,
            tokens_in=sum(a.tokens_in for a in answers),
            tokens_out=sum(a.tokens_out for a in answers),
            model=answers[0].model if answers else self.config.model,
            model_latency_ms=sum(a.latency_ms for a in answers) if answers else None,
            not_reviewed=[SkippedFile(p, r) for p, r in tally.not_reviewed.items()],
            notes=[_note_text(note, count) for note, count in tally.notes.items()],
        )

    def _with_carried(self, review_input: ReviewInput) -> list[FileDiff]:
        """The delta's files, with every carried path replaced by the whole file at
        head: what an earlier review missed may lie outside this delta's hunks."""
        carried = list(dict.fromkeys(review_input.carried))
        if not carried:
            return list(review_input.files)
        whole = files_at(review_input.repo, review_input.head_sha, carried)
        replaced = {f.path for f in whole}
        return [f for f in review_input.files if f.path not in replaced] + whole

    def _review_piece(
        self, client: httpx.Client, piece: Piece, tally: _Tally
    ) -> list[Piece] | None:
        """Review one piece; returns smaller pieces to review instead when the piece
        did not fit or its answer was cut short."""
        messages = review_messages(piece)
        sizer = PromptSizer(self.config, self.calibration)
        try:
            if not sizer.fits(messages):
                raise _PromptTooLarge
            answer = self._chat(client, messages)
        except _PromptTooLarge as refused:
            if refused.reported_tokens:  # the server said how many it counted: learn it
                self._learn(messages, refused.reported_tokens, tally)
            return self._split(piece, tally, HUNK_TOO_LARGE)
        tally.answers.append(answer)
        self._calibrate(messages, answer, tally)
        source = f"llm:{answer.model}"
        if answer.cut_short or ends_early(answer.content):
            smaller = self._split(piece, tally, CUT_SHORT)
            if smaller is not None:
                return smaller
            # Nothing smaller to ask: keep what the answer holds; the file is listed.
            findings = _salvaged(answer.content, source)
        else:
            findings, _invalid = parse_findings(answer.content, source)
        files = {f.path: f for f in piece}
        findings, dropped = keep_in_diff(findings, files)
        tally.dropped += dropped
        if self.config.passes >= 2 and findings:
            findings = self._critique(client, piece, findings, tally)
        if self.config.passes >= 3 and findings:
            findings = self._refine(client, piece, findings, files, tally, source)
        tally.findings += findings
        return None

    def _split(self, piece: Piece, tally: _Tally, reason: str) -> list[Piece] | None:
        smaller = halves(piece)
        if smaller is None:
            for file in piece:
                tally.not_reviewed.setdefault(file.path, reason)
        return smaller

    def _calibrate(self, messages: list[Message], answer: _Answer, tally: _Tally) -> None:
        if answer.reported:
            self._learn(messages, answer.tokens_in, tally)

    def _learn(self, messages: list[Message], reported: int, tally: _Tally) -> None:
        estimated = estimate_message_tokens(messages)
        self.calibration = self.calibration.observed(estimated, reported)
        tally.samples += 1

    def _critique(
        self, client: httpx.Client, piece: Piece, findings: list[Finding], tally: _Tally
    ) -> list[Finding]:
        messages = critique_messages(piece, findings)
        answer = self._extra_pass(client, messages, tally, "critique")
        if answer is None:
            return findings
        keep = parse_keep_ids(answer.content)
        if keep is None:
            tally.notes["critique-garbage"] += 1
            return findings
        return [f for i, f in enumerate(findings) if i in keep]

    def _refine(
        self,
        client: httpx.Client,
        piece: Piece,
        findings: list[Finding],
        files: dict[str, FileDiff],
        tally: _Tally,
        source: str,
    ) -> list[Finding]:
        answer = self._extra_pass(client, refine_messages(piece, findings), tally, "refine")
        if answer is None:
            return findings
        try:
            refined, _invalid = parse_findings(answer.content, source)
        except ReviewerError:
            tally.notes["refine-garbage"] += 1
            return findings
        known_paths = {f.path for f in findings}
        refined, _dropped = keep_in_diff((f for f in refined if f.path in known_paths), files)
        return refined[: len(findings)]  # a refine pass adds nothing new

    def _extra_pass(
        self, client: httpx.Client, messages: list[Message], tally: _Tally, name: str
    ) -> _Answer | None:
        """A critique or refine call; None (and a note) when it cannot be used."""
        if not PromptSizer(self.config, self.calibration).fits(messages):
            tally.notes[f"{name}-too-large"] += 1
            return None
        try:
            answer = self._chat(client, messages)
        except _PromptTooLarge:
            tally.notes[f"{name}-too-large"] += 1
            return None
        tally.answers.append(answer)
        self._calibrate(messages, answer, tally)
        if answer.cut_short or ends_early(answer.content):
            tally.notes[f"{name}-cut-short"] += 1
            return None
        return answer

    def _client(self) -> httpx.Client:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return httpx.Client(timeout=self.config.timeout_s, headers=headers)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _chat(self, client: httpx.Client, messages: list[Message]) -> _Answer:
        """One model call. `timeout_s` is its deadline: retries, waits and a server
        trickling its answer byte by byte all count against it."""
        url = f"{self.config.base_url}/chat/completions"
        body = {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.answer_tokens,
            "response_format": {"type": "json_object"},
        }
        timeout = self.config.timeout_s
        deadline = time.monotonic() + timeout
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            log.debug("POST %s model=%s attempt=%d", url, self.config.model, attempt + 1)
            started = time.monotonic()
            try:
                status, headers, raw = _post_by(client, url, body, deadline)
            except (httpx.TimeoutException, _DeadlinePassed) as exc:
                raise ReviewerError(f"timed out after {timeout:g}s") from exc
            except httpx.TransportError as exc:
                if attempt + 1 < attempts and self._wait(None, attempt, deadline):
                    continue
                reason = self._redact(str(exc)) or type(exc).__name__
                raise ReviewerError(f"cannot reach {url}: {reason}") from exc
            latency_ms = int((time.monotonic() - started) * 1000)
            if status in RETRY_STATUSES and attempt + 1 < attempts:
                log.info("HTTP %d from %s; retrying", status, url)
                if self._wait(headers.get("Retry-After"), attempt, deadline):
                    continue
                raise ReviewerError(
                    f"HTTP {status} from {url}; a retry would pass the {timeout:g}s deadline"
                )
            text = raw.decode("utf-8", "replace")
            if status == 400 and _CONTEXT_EXCEEDED.search(text):
                counted = _PROMPT_COUNT.search(text)
                number = counted and (counted.group(1) or counted.group(2))
                raise _PromptTooLarge(int(number) if number else None)
            if status >= 400:
                detail = self._redact(text[:200].strip())
                raise ReviewerError(f"HTTP {status} from {url}: {detail}")
            return self._answer(raw, messages, latency_ms)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _answer(self, raw: bytes, messages: list[Message], latency: int) -> _Answer:
        try:
            payload = json.loads(raw)
            choice = payload["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ReviewerError("endpoint answered without choices[0].message.content") from exc
        if not isinstance(content, str) or not content.strip():
            raise ReviewerError("model answered with no content")
        usage = payload.get("usage") or {}
        tokens_in = usage.get("prompt_tokens")
        tokens_out = usage.get("completion_tokens")
        reported = isinstance(tokens_in, int)
        if not isinstance(tokens_in, int):  # a server without usage: our own estimate
            tokens_in = self.calibration.tokens(estimate_message_tokens(messages))
        if not isinstance(tokens_out, int):
            tokens_out = estimate_tokens(content)
        model = str(payload.get("model") or self.config.model)
        cut_short = choice.get("finish_reason") == "length"
        return _Answer(content, tokens_in, tokens_out, latency, model, cut_short, reported)

    def _wait(self, retry_after: str | None, attempt: int, deadline: float) -> bool:
        """Sleep before a retry; False when the wait would pass the deadline."""
        wait = min(_retry_after_s(retry_after, self._backoff_s * 2**attempt), MAX_RETRY_WAIT_S)
        if time.monotonic() + wait >= deadline:
            return False
        time.sleep(wait)
        return True


def _salvaged(content: str, source: str) -> list[Finding]:
    """The complete findings in an answer that was cut short (maybe none)."""
    try:
        return parse_findings(content, source)[0]
    except ReviewerError:
        return []


class _DeadlinePassed(Exception):
    pass


def _post_by(
    client: httpx.Client, url: str, body: dict[str, object], deadline: float
) -> tuple[int, httpx.Headers, bytes]:
    """POST and read the whole answer before `deadline`: every network wait is
    bounded by the time left, and the deadline is checked between chunks."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _DeadlinePassed
    chunks: list[bytes] = []
    with client.stream("POST", url, json=body, timeout=httpx.Timeout(remaining)) as response:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise _DeadlinePassed
        return response.status_code, response.headers, b"".join(chunks)


_NOTES = {
    "critique-garbage": "critique pass answered without usable JSON in {n}; "
    "the first pass's findings were kept",
    "critique-too-large": "critique pass skipped in {n}: its prompt would not fit the context",
    "critique-cut-short": "critique answer cut short in {n}; the first pass's findings were kept",
    "refine-garbage": "refine pass answered without usable JSON in {n}; findings kept as found",
    "refine-too-large": "refine pass skipped in {n}: its prompt would not fit the context",
    "refine-cut-short": "refine answer cut short in {n}; findings kept as found",
}


def _note_text(note: str, count: int) -> str:
    return _NOTES[note].format(n="1 call" if count == 1 else f"{count} calls")


def _retry_after_s(header: str | None, default: float) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not header:
        return default
    try:
        return max(float(header), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return default
    return max(when.timestamp() - time.time(), 0.0)
