"""A reviewer backed by any OpenAI-compatible chat-completions endpoint.

Synchronous on purpose (httpx.Client): the caller runs it off the event loop. The
API key goes into the Authorization header only, and is never logged or put in
an error message.
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobs.config import LlmReviewerConfig
from jobs.review.budget import estimate_tokens
from jobs.review.diff import FileDiff
from jobs.review.finding import Finding
from jobs.review.llm_answer import keep_in_diff, parse_findings, parse_keep_ids
from jobs.review.prompt import (
    PROMPT_VERSION,
    Message,
    critique_messages,
    prompt_budget,
    refine_messages,
    review_messages,
)
from jobs.review.reviewers import ReviewerError, ReviewerOutput, ReviewInput, reviewer_fingerprint

if TYPE_CHECKING:
    import httpx  # imported where a review calls a model: opsdesk run stays lighter

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_WAIT_S = 60.0


@dataclass
class _Answer:
    content: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    model: str


class LlmReviewer:
    kind = "llm"

    def __init__(
        self,
        config: LlmReviewerConfig | None = None,
        api_key: str | None = None,
        *,
        backoff_s: float = 1.0,
    ) -> None:
        self.config = config or LlmReviewerConfig()
        self._api_key = api_key
        self._backoff_s = backoff_s

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
        return prompt_budget(self.config)

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        """Pass 1 finds; pass 2 (critique) drops weak findings; pass 3 refines them.
        Token usage and latency are summed over the passes."""
        if not review_input.files:
            return ReviewerOutput(model=self.config.model)
        files = {f.path: f for f in review_input.files}
        answers: list[_Answer] = []
        with self._client() as client:
            answers.append(self._chat(client, review_messages(review_input.packed)))
            source = f"llm:{answers[0].model}"
            findings, _invalid = parse_findings(answers[0].content, source)
            findings, dropped = keep_in_diff(findings, files)
            if self.config.passes >= 2 and findings:
                answers.append(self._chat(client, critique_messages(review_input.packed, findings)))
                keep = parse_keep_ids(answers[-1].content)
                if keep is not None:  # an unusable critique keeps the first pass's findings
                    findings = [f for i, f in enumerate(findings) if i in keep]
            if self.config.passes >= 3 and findings:
                answers.append(self._chat(client, refine_messages(review_input.packed, findings)))
                findings = self._refined(answers[-1].content, source, findings, files)
        return ReviewerOutput(
            findings=findings,
            dropped_outside_diff=dropped,
            tokens_in=sum(a.tokens_in for a in answers),
            tokens_out=sum(a.tokens_out for a in answers),
            model=answers[0].model,
            model_latency_ms=sum(a.latency_ms for a in answers),
        )

    @staticmethod
    def _refined(
        content: str, source: str, previous: list[Finding], files: dict[str, FileDiff]
    ) -> list[Finding]:
        try:
            refined, _invalid = parse_findings(content, source)
        except ReviewerError:
            return previous
        known_paths = {f.path for f in previous}
        refined, _dropped = keep_in_diff((f for f in refined if f.path in known_paths), files)
        return refined[: len(previous)]  # a refine pass adds nothing new

    def _client(self) -> httpx.Client:
        import httpx

        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return httpx.Client(timeout=self.config.timeout_s, headers=headers)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _chat(self, client: httpx.Client, messages: list[Message]) -> _Answer:
        import httpx

        url = f"{self.config.base_url}/chat/completions"
        body = {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.answer_tokens,
            "response_format": {"type": "json_object"},
        }
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            log.debug("POST %s model=%s attempt=%d", url, self.config.model, attempt + 1)
            started = time.monotonic()
            try:
                response = client.post(url, json=body)
            except httpx.TimeoutException as exc:
                raise ReviewerError(f"timed out after {self.config.timeout_s:g}s") from exc
            except httpx.TransportError as exc:
                if attempt + 1 < attempts:
                    self._sleep(None, attempt)
                    continue
                reason = self._redact(str(exc)) or type(exc).__name__
                raise ReviewerError(f"cannot reach {url}: {reason}") from exc
            latency_ms = int((time.monotonic() - started) * 1000)
            if response.status_code in RETRY_STATUSES and attempt + 1 < attempts:
                log.info("HTTP %d from %s; retrying", response.status_code, url)
                self._sleep(response.headers.get("Retry-After"), attempt)
                continue
            if response.status_code >= 400:
                detail = self._redact(response.text[:200].strip())
                raise ReviewerError(f"HTTP {response.status_code} from {url}: {detail}")
            return self._answer(response, messages, latency_ms)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _answer(self, response: httpx.Response, messages: list[Message], latency: int) -> _Answer:
        try:
            payload = response.json()
            content = payload["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ReviewerError("endpoint answered without choices[0].message.content") from exc
        if not isinstance(content, str) or not content.strip():
            raise ReviewerError("model answered with no content")
        usage = payload.get("usage") or {}
        # Servers that report no usage: fall back to the ceil(chars/4) estimate.
        tokens_in = usage.get("prompt_tokens")
        if not isinstance(tokens_in, int):
            tokens_in = sum(estimate_tokens(m["content"]) for m in messages)
        tokens_out = usage.get("completion_tokens")
        if not isinstance(tokens_out, int):
            tokens_out = estimate_tokens(content)
        model = str(payload.get("model") or self.config.model)
        return _Answer(content, tokens_in, tokens_out, latency, model)

    def _sleep(self, retry_after: str | None, attempt: int) -> None:
        time.sleep(min(_retry_after_s(retry_after, self._backoff_s * 2**attempt), MAX_RETRY_WAIT_S))


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
