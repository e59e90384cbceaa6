"""One call to an OpenAI-compatible chat-completions endpoint, within a deadline.

    with ChatEndpoint(config, api_key) as endpoint:
        answer = endpoint.call(messages, estimated_prompt_tokens=1234)

`timeout_s` bounds the whole call from when it gets a slot of the review's gate
(jobs.review.llm.gate): retries, `Retry-After` waits, waiting for a slot again and a
server trickling its answer byte by byte all count against it. A server refusing the
prompt as over its context raises `PromptTooLarge` (the caller splits the piece);
everything else that goes wrong raises ReviewerError with a reason for a human.
The API key goes into the Authorization header only, and is never logged or put
in an error message.
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from jobs.config.schema import LlmReviewerConfig
from jobs.core import bounded_json
from jobs.core.scrub import scrub
from jobs.core.text import duration
from jobs.review.llm.gate import Gate, SlotTimeout
from jobs.review.llm.prompt import Message
from jobs.review.reviewers import ReviewerError
from jobs.review.tokens import estimate_tokens

if TYPE_CHECKING:
    import httpx  # imported when a review calls a model: `opsdesk run` stays lighter

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BUSY_STATUSES = frozenset({429, 503})  # too many requests, overloaded: fewer at once
MAX_CROWDED = 8  # retries of one call a crowded server may cost beyond max_retries
MB = 1024 * 1024
MAX_RETRY_WAIT_S = 60.0
# llama.cpp: "exceeds the available context size"; vLLM: "maximum context length";
# OpenAI: "context_length_exceeded".
_CONTEXT_EXCEEDED = re.compile(r"context (length|size|window)|context_length_exceeded", re.I)
# How many prompt tokens a refusal says it counted: vLLM "(2100 in the messages, …",
# llama.cpp "n_prompt_tokens": 2100.
_PROMPT_COUNT = re.compile(r"(\d+) in the messages|\"n_prompt_tokens\"\s*:\s*(\d+)")


class PromptTooLarge(Exception):
    """The server refused the prompt as larger than its context (HTTP 400), perhaps
    saying how many tokens it counted."""

    def __init__(self, reported_tokens: int | None = None) -> None:
        super().__init__()
        self.reported_tokens = reported_tokens


@dataclass
class Answer:
    content: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    model: str
    cut_short: bool  # finish_reason "length"
    reported: bool  # tokens_in came from the server's usage (not our estimate)


class _DeadlinePassed(Exception):
    pass


class _TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {limit / MB:g} MB; the rest was not read")


class ChatEndpoint:
    """The endpoint of one reviewer configuration, over one HTTP connection pool."""

    def __init__(
        self,
        config: LlmReviewerConfig,
        api_key: str | None,
        *,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        gate: Gate | None = None,
    ) -> None:
        self.config = config
        self._gate = gate or Gate(1)  # shared by the calls of one review
        self._api_key = api_key
        self._backoff_s = backoff_s
        self._sleep = sleep  # tests pass one that records the wait instead of waiting
        self._max_answer_bytes = int(config.max_answer_mb * MB)
        import httpx

        # identity: a compressed answer would be decompressed before the byte cap sees it.
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(timeout=config.timeout_s, headers=headers)

    def __enter__(self) -> ChatEndpoint:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._client.close()

    def _redact(self, text: str) -> str:
        return scrub(text, extra=[self._api_key])

    def call(self, messages: list[Message], estimated_prompt_tokens: int) -> Answer:
        """The model's answer to `messages`. `estimated_prompt_tokens` stands in for
        a server that reports no usage."""
        import httpx

        url = f"{self.config.base_url}/chat/completions"
        body = {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.answer_tokens,
            "response_format": {"type": "json_object"},
        }
        timeout = self.config.timeout_s
        deadline = math.inf  # set at the first slot: waiting for a turn is not the call's
        attempts = self.config.max_retries + 1
        attempt = crowded_retries = 0
        while True:
            log.debug("POST %s model=%s attempt=%d", url, self.config.model, attempt + 1)
            try:
                with self._gate.slot(deadline) as slot:
                    if deadline == math.inf:
                        deadline = time.monotonic() + timeout
                    started = time.monotonic()
                    status, headers, raw = self._post_by(url, body, deadline)
            except (httpx.TimeoutException, _DeadlinePassed, SlotTimeout) as exc:
                raise ReviewerError(f"timed out after {duration(timeout * 1000)}") from exc
            except _TooLarge as exc:
                raise ReviewerError(str(exc)) from exc
            except httpx.TransportError as exc:
                if attempt + 1 < attempts and self._wait(None, attempt, deadline):
                    attempt += 1
                    continue
                reason = self._redact(str(exc)) or type(exc).__name__
                raise ReviewerError(f"cannot reach {url}: {reason}") from exc
            latency_ms = int((time.monotonic() - started) * 1000)
            if status in BUSY_STATUSES:
                self._gate.busy()
            # A server busy with this review's other calls: asked again with fewer in
            # flight, without using up a retry (the deadline still bounds it).
            crowded = status in BUSY_STATUSES and slot.shared and crowded_retries < MAX_CROWDED
            if status in RETRY_STATUSES and (crowded or attempt + 1 < attempts):
                log.info("HTTP %d from %s; retrying", status, url)
                if self._wait(headers.get("Retry-After"), attempt, deadline):
                    crowded_retries += crowded
                    attempt += not crowded
                    continue
                raise ReviewerError(
                    f"HTTP {status} from {url}; a retry would pass the {timeout:g}s deadline"
                )
            text = raw.decode("utf-8", "replace")
            if status == 400 and _CONTEXT_EXCEEDED.search(text):
                counted = _PROMPT_COUNT.search(text)
                number = counted and (counted.group(1) or counted.group(2))
                raise PromptTooLarge(int(number) if number else None)
            if status >= 400:
                # Scrubbed BEFORE the cut: a key split by it would leak its start.
                detail = self._redact(text)[:200].strip()
                raise ReviewerError(f"HTTP {status} from {url}: {detail}")
            self._gate.served()
            return self._answer(raw, estimated_prompt_tokens, latency_ms)

    def _post_by(
        self, url: str, body: dict[str, object], deadline: float
    ) -> tuple[int, httpx.Headers, bytes]:
        """POST and read the whole answer before `deadline`: every network wait is
        bounded by the time left, and the deadline is checked between chunks."""
        import httpx

        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _DeadlinePassed
        chunks: list[bytes] = []
        received = 0
        limit = self._max_answer_bytes
        timeout = httpx.Timeout(remaining)
        with self._client.stream("POST", url, json=body, timeout=timeout) as response:
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > limit:  # what was read is dropped with the connection
                    raise _TooLarge(limit)
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _DeadlinePassed
            return response.status_code, response.headers, b"".join(chunks)

    def _answer(self, raw: bytes, estimated_prompt_tokens: int, latency: int) -> Answer:
        try:
            payload = bounded_json.loads(raw.decode("utf-8"))
            choice = payload["choices"][0]
            content = choice["message"]["content"]
        except bounded_json.TooDeep as exc:
            raise ReviewerError(f"endpoint answered with {exc}") from exc
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ReviewerError("endpoint answered without choices[0].message.content") from exc
        if not isinstance(content, str) or not content.strip():
            raise ReviewerError("model answered with no content")
        usage = payload.get("usage") or {}
        tokens_in = usage.get("prompt_tokens")
        tokens_out = usage.get("completion_tokens")
        reported = isinstance(tokens_in, int)
        if not isinstance(tokens_in, int):  # a server without usage: our own estimate
            tokens_in = estimated_prompt_tokens
        if not isinstance(tokens_out, int):
            tokens_out = estimate_tokens(content)
        model = str(payload.get("model") or self.config.model)
        cut_short = choice.get("finish_reason") == "length"
        return Answer(content, tokens_in, tokens_out, latency, model, cut_short, reported)

    def _wait(self, retry_after: str | None, attempt: int, deadline: float) -> bool:
        """Sleep before a retry; False when the wait would pass the deadline."""
        wait = min(_retry_after_s(retry_after, self._backoff_s * 2**attempt), MAX_RETRY_WAIT_S)
        if time.monotonic() + wait >= deadline:
            return False
        self._sleep(wait)
        return True


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
