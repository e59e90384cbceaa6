"""Count a prompt's tokens before sending it: a conservative estimate, calibrated
per model from the `usage` the server reports.

No tokenizer is downloaded (tiktoken fetches its BPE files at run time; opsdesk
must work offline). The estimate splits text the way BPE pre-tokenizers do
(letter runs, digits, punctuation, whitespace) and charges each piece at least
what a byte-level BPE would: a token per punctuation mark and per digit, one per
four letters, a token per UTF-8 byte of anything non-ASCII. Real tokenizers merge
more, so the raw estimate runs high; the per-model `ratio` (largest reported /
estimated seen, plus a margin) brings it down to what the server really counts
without ever assuming less than it has seen.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# One match per token charged: up to four letters, up to sixteen spaces or tabs, or
# any other single character (digit, newline, punctuation, control, non-ASCII).
LETTERS_PER_TOKEN = 4
SPACES_PER_TOKEN = 16
_CHARGED = re.compile(
    rf"[A-Za-z]{{1,{LETTERS_PER_TOKEN}}}|[ \t]{{1,{SPACES_PER_TOKEN}}}|[^A-Za-z \t]"
)
# Chat templates wrap each message in role markers (<|im_start|>user … <|im_end|>).
TOKENS_PER_MESSAGE = 8
# Added to the largest ratio seen, so a prompt a little denser than any seen so far
# still fits.
CALIBRATION_MARGIN = 0.05


def estimate_tokens(text: str) -> int:
    """Tokens `text` takes, erring high (see the module docstring): a token per four
    letters of a run, per sixteen blanks, per other ASCII character, and per UTF-8
    byte of anything else."""
    total = len(_CHARGED.findall(text))
    if not text.isascii():
        total += len(text.encode("utf-8")) - len(text)  # the bytes after each first
    return total


def estimate_message_tokens(messages: Iterable[Mapping[str, str]]) -> int:
    """The raw estimate for a chat request's messages, template markers included."""
    return sum(estimate_tokens(m["content"]) + TOKENS_PER_MESSAGE for m in messages)


@dataclass(frozen=True)
class Calibration:
    """How a model's real token counts relate to `estimate_tokens`, from `samples`
    calls: `ratio` is the largest reported/estimated seen (1.0 before any) and sizes
    prompts; the totals give the typical ratio, for figures."""

    model: str
    ratio: float = 1.0
    samples: int = 0
    estimated_total: int = 0
    reported_total: int = 0

    @property
    def factor(self) -> float:
        """What estimates are multiplied by to size a prompt: the largest ratio seen
        plus a margin, and the raw (high) estimate before the server has reported."""
        return 1.0 if self.samples == 0 else self.ratio + CALIBRATION_MARGIN

    def tokens(self, estimate: int) -> int:
        """A prompt's tokens, erring high: what must fit the context."""
        return math.ceil(estimate * self.factor)

    def expected(self, estimate: int) -> int:
        """A prompt's tokens as the server will most likely count them (the typical
        ratio, no margin): what a figure compares with the server's usage."""
        if self.estimated_total <= 0:
            return estimate
        return round(estimate * self.reported_total / self.estimated_total)

    def observed(self, estimated: int, reported: int) -> Calibration:
        """This calibration after a call estimated at `estimated` that the server
        counted as `reported` prompt tokens."""
        if estimated <= 0 or reported <= 0:
            return self
        seen = reported / estimated
        return Calibration(
            self.model,
            seen if self.samples == 0 else max(self.ratio, seen),
            self.samples + 1,
            self.estimated_total + estimated,
            self.reported_total + reported,
        )
