"""How long opsdesk takes to read hostile model answers, by size: parsing must be
linear in the answer and never recurse as deep as the answer nests.

    python bench/hostile_answers.py

Each shape is built at 117 KB, 470 KB and 1.9 MB (x4 each step); a linear parser takes
about 4x as long for each step, a quadratic one 16x. Prints the time of
`parse_findings` + `ends_early` (what the model reviewer does with every answer),
and exits non-zero when a 470 KB answer takes longer than 1 s.
"""

from __future__ import annotations

import contextlib
import sys
import time

from jobs.review.llm.answer import ends_early, parse_findings
from jobs.review.reviewers import ReviewerError

FINDING = '{"path": "a.py", "line": 1, "message": "m [x] {y}"}, '
SHAPES = {
    # Many starts inside one unclosed value: each used to decode to the end of the text.
    "unclosed list of findings": lambda n: '{"findings": [' + FINDING * (n // len(FINDING)),
    # Brackets inside strings, which a decoder tried at every "[" and "{".
    "brackets in strings": lambda n: '["' + "[{" * (n // 2) + '"',
    # Prose with a broken object every few bytes.
    "broken objects in prose": lambda n: "note {x: 1} [y " * (n // 15),
    "nested 5,000 deep, padded": lambda n: "[" * 5000 + " " * n,
}
LIMIT_S = 1.0


def read(text: str) -> None:
    ends_early(text)
    with contextlib.suppress(ReviewerError):  # no JSON at all: a reason, as in a review
        parse_findings(text, "llm")


def main() -> int:
    worst = 0.0
    for name, make in SHAPES.items():
        figures = []
        for size in (117_500, 470_000, 1_880_000):
            text = make(size)
            started = time.perf_counter()
            read(text)
            elapsed = time.perf_counter() - started
            figures.append(f"{len(text) / 1000:,.0f} KB {elapsed * 1000:,.0f} ms")
            if size == 470_000:
                worst = max(worst, elapsed)
        print(f"{name}: " + "; ".join(figures))
    print(f"slowest 470 KB answer: {worst * 1000:.0f} ms (target <= {LIMIT_S * 1000:.0f} ms)")
    return 0 if worst <= LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
