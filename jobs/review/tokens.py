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

_PIECE = re.compile(r"[A-Za-z]+|[0-9]|[ \t]+|\n|[\x21-\x7e]|[^\x00-\x7f]")
LETTERS_PER_TOKEN = 4
SPACES_PER_TOKEN = 16
# Chat templates wrap each message in role markers (<|im_start|>user … <|im_end|>).
TOKENS_PER_MESSAGE = 8
# Added to the largest ratio seen, so a prompt a little denser than any seen so far
# still fits.
CALIBRATION_MARGIN = 0.05


def estimate_tokens(text: str) -> int:
    """Tokens `text` takes, erring high (see the module docstring)."""
    total = 0
    for piece in _PIECE.findall(text):
        first = piece[0]
        if first.isascii() and first.isalpha():
            total += math.ceil(len(piece) / LETTERS_PER_TOKEN)
        elif first in " \t":
            total += math.ceil(len(piece) / SPACES_PER_TOKEN)
        elif first.isascii():
            total += 1
        else:
            total += len(first.encode("utf-8"))
    # Control characters other than tab and newline are not matched above.
    return total + sum(1 for ch in text if ch < " " and ch not in "\t\n")


def estimate_message_tokens(messages: Iterable[Mapping[str, str]]) -> int:
    """The raw estimate for a chat request's messages, template markers included."""
    return sum(estimate_tokens(m["content"]) + TOKENS_PER_MESSAGE for m in messages)


@dataclass(frozen=True)
class Calibration:
    """How a model's real token counts relate to `estimate_tokens`: `ratio` is the
    largest reported/estimated seen over `samples` calls (1.0 before any)."""

    model: str
    ratio: float = 1.0
    samples: int = 0

    @property
    def factor(self) -> float:
        """What estimates are multiplied by: the ratio seen plus a margin, and the
        raw (high) estimate itself before the server has reported anything."""
        return 1.0 if self.samples == 0 else self.ratio + CALIBRATION_MARGIN

    def tokens(self, estimate: int) -> int:
        return math.ceil(estimate * self.factor)

    def observed(self, estimated: int, reported: int) -> Calibration:
        """This calibration after a call estimated at `estimated` that the server
        counted as `reported` prompt tokens."""
        if estimated <= 0 or reported <= 0:
            return self
        seen = reported / estimated
        ratio = seen if self.samples == 0 else max(self.ratio, seen)
        return Calibration(self.model, ratio, self.samples + 1)
