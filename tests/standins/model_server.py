"""A real HTTP server on 127.0.0.1 that answers chat-completion requests from a script,
and behaves like llama.cpp / vLLM where it matters to a client:

- it counts tokens with its own deterministic BPE-like tokenizer (not chars/4, and
  not opsdesk's estimator), and reports them as `usage`;
- a prompt plus `max_tokens` over `context_tokens` is refused with HTTP 400 and
  vLLM's wording, before any answer;
- an answer longer than `max_tokens` is cut there, with finish_reason "length";
- it can trickle its answer a few bytes at a time (`Scripted.trickle_s`);
- GET /v1/models lists `models`, as the health check's probe expects;
- like llama.cpp `--parallel N` it serves `slots` requests at once, each taking
  `latency_s`: a request beyond them waits its turn, or is answered 429 with
  `Retry-After` when `busy_when_full` (a gateway in front of a full server);
  `peak_in_flight` is the most it ever served at once, and `hold_until` makes
  each request wait until that many are in service together (a test's signal that
  calls really overlap; `hold_timed_out` says when they never did), and
  `hold_until_turned_away` also until that many were answered 429 (so a busy answer
  is certain, not a matter of which thread the machine ran first).

Every request is recorded with the prompt tokens it counted.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Pieces as GPT-style pre-tokenizers cut them: a word with its leading space,
# up to three digits, a run of punctuation, whitespace.
_PIECES = re.compile(r" ?[A-Za-z]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]+|\s+")
LETTERS_PER_TOKEN = 6  # merges: a long identifier is several tokens
PUNCT_PER_TOKEN = 2
TOKENS_PER_MESSAGE = 4  # <|im_start|>role … <|im_end|>
TOKENS_PER_REQUEST = 3  # the assistant turn's opening
FLOOD_LIMIT_S = 60.0  # an endless answer ends here even if nobody hangs up
HOLD_LIMIT_S = 10.0  # a held request goes on alone after this (and says so)


def _piece_tokens(piece: str) -> int:
    core = piece.lstrip(" ") or piece
    if core[0].isalpha():
        return -(-len(core) // LETTERS_PER_TOKEN)
    if core[0].isdigit() or core[0].isspace():
        return 1
    return -(-len(core) // PUNCT_PER_TOKEN)


def count_tokens(text: str) -> int:
    """The stand-in model's token count for `text`."""
    ascii_pieces = sum(_piece_tokens(p) for p in _PIECES.findall(text) if p.isascii())
    other = sum(len(p.encode("utf-8")) for p in _PIECES.findall(text) if not p.isascii())
    return ascii_pieces + other


def cut_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text` (whole pieces) within `limit` tokens."""
    used, end = 0, 0
    for match in _PIECES.finditer(text):
        cost = count_tokens(match.group())
        if used + cost > limit:
            break
        used, end = used + cost, match.end()
    return text[:end]


def prompt_tokens(messages: list[dict[str, str]]) -> int:
    return sum(count_tokens(m["content"]) + TOKENS_PER_MESSAGE for m in messages) + (
        TOKENS_PER_REQUEST
    )


@dataclass
class Scripted:
    status: int = 200
    content: str | None = None  # the model's message content
    body: str | None = None  # a raw body instead of a chat completion
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    usage: dict[str, int] | None = None  # None: counted by the stand-in's tokenizer
    report_usage: bool = True
    trickle_s: float = 0.0  # pause between 4-byte chunks of the answer
    # A hostile server: this many bytes of answer (no Content-Length), or -1 for an
    # endless stream, until the client hangs up (never past FLOOD_LIMIT_S).
    flood_bytes: int | None = None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    prompt_tokens: int = 0  # as the stand-in counted them
    refused: bool = False  # answered 400: over the context


class ModelServer:
    def __init__(self, context_tokens: int | None = None) -> None:
        self.models = ["qwen2.5-coder:7b"]
        self.script: list[Scripted] = []
        self.received: list[Received] = []
        self.context_tokens = context_tokens
        self.flooded = 0  # bytes a flooding answer wrote before the client hung up
        # Completion tokens every answer reports (a model that thinks at length); None:
        # counted from the answer.
        self.completion_tokens: int | None = None
        # Answers when the script is empty: the request body → message content.
        self.responder: Callable[[dict[str, Any]], str] = lambda _body: '{"findings":[]}'
        self.slots: int | None = None
        self.latency_s = 0.0
        self.busy_when_full = False
        self.retry_after = "0"
        self.hold_until = 0
        self.hold_until_turned_away = 0
        self.hold_timed_out = False
        self.in_flight = 0
        self.peak_in_flight = 0
        self.answered_busy = 0
        self._serving = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.received.append(Received(self.path, dict(self.headers), {}))
                listing = {"data": [{"id": name} for name in fake.models]}
                found = self.path == "/v1/models"
                self._send(Scripted(status=200 if found else 404, body=json.dumps(listing)))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                received = Received(self.path, dict(self.headers), body)
                received.prompt_tokens = prompt_tokens(body.get("messages", []))
                fake.received.append(received)
                refusal = fake._refusal(received)
                if refusal is not None:
                    received.refused = True
                    self._send(Scripted(status=400, body=refusal))
                    return
                if not fake._take_slot():
                    busy = Scripted(status=429, body='{"error": "too many requests"}')
                    busy.headers["Retry-After"] = fake.retry_after
                    self._send(busy)
                    return
                try:
                    step = fake.script.pop(0) if fake.script else Scripted(content=None)
                    if step.content is None and step.body is None:
                        step.content = fake.responder(body)
                    fake._serve()
                    time.sleep(step.delay_s)
                    completion = fake._completion(step, body, received.prompt_tokens)
                finally:
                    fake._free_slot()
                self._send(step, fake._reported(completion))

            def _flood(self, step: Scripted) -> None:
                self.send_response(step.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                chunk = b'{"choices": [{"message": {"content": "' + b"x" * 65_000
                sent, stop_at = 0, time.monotonic() + FLOOD_LIMIT_S
                while (step.flood_bytes == -1 or sent < (step.flood_bytes or 0)) and (
                    time.monotonic() < stop_at
                ):
                    self.wfile.write(chunk)
                    sent += len(chunk)
                fake.flooded += sent

            def _send(self, step: Scripted, payload: str | None = None) -> None:
                data = (payload if step.body is None else step.body or "").encode()
                try:
                    if step.flood_bytes is not None:
                        self._flood(step)
                        return
                    self.send_response(step.status)
                    for name, value in step.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if not step.trickle_s:
                        self.wfile.write(data)
                        return
                    self.wfile.flush()
                    for start in range(0, len(data), 4):
                        self.wfile.write(data[start : start + 4])
                        self.wfile.flush()
                        time.sleep(step.trickle_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def _take_slot(self) -> bool:
        """A slot for one request: False when all are taken and `busy_when_full`."""
        with self._serving:
            while self.slots is not None and self.in_flight >= self.slots:
                if self.busy_when_full:
                    self.answered_busy += 1
                    self._serving.notify_all()
                    return False
                self._serving.wait()
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._serving.notify_all()
            return True

    def _serve(self) -> None:
        """The request's time in its slot: `hold_until` together (and
        `hold_until_turned_away` answered busy meanwhile), then `latency_s`."""

        def released() -> bool:
            together = self.peak_in_flight >= self.hold_until
            return together and self.answered_busy >= self.hold_until_turned_away

        with self._serving:
            held = self.hold_until or self.hold_until_turned_away
            if held and not self._serving.wait_for(released, timeout=HOLD_LIMIT_S):
                self.hold_timed_out = True
        time.sleep(self.latency_s)

    def _free_slot(self) -> None:
        with self._serving:
            self.in_flight -= 1
            self._serving.notify_all()

    def _refusal(self, received: Received) -> str | None:
        """vLLM's 400 for a request over the context, or None."""
        if self.context_tokens is None:
            return None
        asked = received.prompt_tokens + int(received.body.get("max_tokens") or 0)
        if asked <= self.context_tokens:
            return None
        message = (
            f"This model's maximum context length is {self.context_tokens} tokens. "
            f"However, you requested {asked} tokens ({received.prompt_tokens} in the "
            f"messages, {received.body.get('max_tokens')} in the completion)."
        )
        return json.dumps({"object": "error", "message": message, "code": 400})

    @staticmethod
    def _completion(step: Scripted, body: dict[str, Any], tokens_in: int) -> str:
        content = step.content or ""
        finish = "stop"
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and count_tokens(content) > max_tokens:
            content, finish = cut_to_tokens(content, max_tokens), "length"
        usage = step.usage or {
            "prompt_tokens": tokens_in,
            "completion_tokens": count_tokens(content),
            "total_tokens": tokens_in + count_tokens(content),
        }
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": finish,
        }
        payload: dict[str, Any] = {"model": body.get("model"), "choices": [choice]}
        if step.report_usage:
            payload["usage"] = usage
        return json.dumps(payload)

    def _reported(self, payload: str) -> str:
        """The completion with `completion_tokens` as its usage, when set."""
        if self.completion_tokens is None:
            return payload
        data = json.loads(payload)
        if "usage" in data:
            usage = data["usage"]
            usage["completion_tokens"] = self.completion_tokens
            usage["total_tokens"] = usage["prompt_tokens"] + self.completion_tokens
        return json.dumps(data)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
