"""JSON from an untrusted answer, read in time linear in its size and never deeper
than a fixed nesting.

`json.loads` recurses once per level of nesting, so an answer nested a few thousand
deep raises RecursionError (an uncaught crash, not a parse error); and trying a
decoder at every `{` of a long text costs time quadratic in its length. Here one
pass over the text's brackets and quotes finds each balanced `{…}` / `[…]` span and
the deepest nesting; only spans within `MAX_DEPTH` are ever handed to `json.loads`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

# Far deeper than any answer opsdesk asks for ({"findings": [{…}]} is 3 deep).
MAX_DEPTH = 64
_MARKS = re.compile(r'["{}\[\]]')


class TooDeep(ValueError):
    """The text nests brackets deeper than MAX_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_DEPTH} levels")


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # one past the closing bracket; -1 when it never closes
    depth: int  # 1 for an outermost span


def _string_end(text: str, pos: int) -> int:
    """Where the string whose body starts at `pos` ends (one past its closing quote),
    or -1 when it never does. Each backslash run is looked at once: linear."""
    while True:
        quote = text.find('"', pos)
        if quote < 0:
            return -1
        before = quote - 1
        while before >= pos and text[before] == "\\":
            before -= 1
        if (quote - 1 - before) % 2 == 0:  # not escaped
            return quote + 1
        pos = quote + 1


@functools.lru_cache(maxsize=2)  # an answer is read several ways; forget() after it
def scan(text: str, *, prose: bool = True) -> tuple[Span, ...]:
    """Every `{`/`[` span in the text, in order of its start, with where it closes.
    With `prose` a quote outside any bracket is ordinary text. Raises TooDeep."""
    spans: list[Span] = []
    open_at: list[int] = []
    pos = 0
    while (found := _MARKS.search(text, pos)) is not None:
        mark, pos = found.group(), found.end()
        if mark == '"':
            if open_at or not prose:
                pos = _string_end(text, pos)
                if pos < 0:
                    break
        elif mark in "{[":
            open_at.append(found.start())
            if len(open_at) > MAX_DEPTH:
                raise TooDeep
        elif open_at:
            start = open_at.pop()
            spans.append(Span(start, pos, len(open_at) + 1))
    spans += [Span(start, -1, depth) for depth, start in enumerate(open_at, 1)]
    return tuple(sorted(spans, key=lambda span: span.start))


def forget() -> None:
    """Drop the scans kept for the last answers (an answer may be megabytes)."""
    scan.cache_clear()


def loads(text: str) -> Any:
    """`json.loads` for text that must be JSON as a whole; ValueError (TooDeep among
    them) when it is not, or is nested deeper than MAX_DEPTH."""
    scan(text, prose=False)
    return json.loads(text)


def decode(text: str, span: Span) -> tuple[bool, Any]:
    """(True, value) when the span decodes as JSON, else (False, None)."""
    if span.end < 0:
        return False, None
    try:
        return True, json.loads(text[span.start : span.end])
    except ValueError:
        return False, None
