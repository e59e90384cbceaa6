"""Where earlier findings went: old-file lines a delta changed, how the others moved, and
so each earlier finding's fate in a new review (still at a line, or fixed).

A model reviewer judges only added lines, so an earlier finding in a changed file that is
not reported again may simply sit on an untouched line. It is fixed only when the
delta changed or removed its line; otherwise it stays open, at its shifted line.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

from jobs.review.diff import FileDiff
from jobs.review.git import PLAIN_DIFF, run_git

MAX_PATHSPECS = 500  # beyond this, diff everything rather than build a huge command line
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class LineMap:
    """Zero-context hunks of one file: (old_start, old_len, new_start, new_len)."""

    hunks: list[tuple[int, int, int, int]] = field(default_factory=list)
    _index: _HunkIndex | None = field(default=None, init=False, repr=False, compare=False)

    def moved(self, old_line: int) -> int | None:
        """The line's new number, or None when the delta changed or removed it.
        A binary search: a file a commit rewrote has thousands of hunks."""
        if self._index is None or self._index.size != len(self.hunks):
            self._index = _HunkIndex(self.hunks)
        return self._index.moved(old_line)


class _HunkIndex:
    """The hunks sorted for bisection: the old lines each one replaced, and the shift
    in line numbers after each."""

    def __init__(self, hunks: list[tuple[int, int, int, int]]) -> None:
        self.size = len(hunks)
        replaced = sorted((start, start + length) for start, length, _, _ in hunks if length)
        self.replaced_starts = [start for start, _end in replaced]
        self.replaced_ends = [end for _start, end in replaced]
        # A hunk moves the lines after its last old line; a pure insertion "-N,0" sits
        # after old line N.
        after = sorted(
            (start + length - 1 if length else start, new_length - length)
            for start, length, _, new_length in hunks
        )
        self.last_old = [last for last, _shift in after]
        self.shift_after: list[int] = list(accumulate(shift for _last, shift in after))

    def moved(self, old_line: int) -> int | None:
        where = bisect_right(self.replaced_starts, old_line) - 1
        if where >= 0 and old_line < self.replaced_ends[where]:
            return None
        before = bisect_left(self.last_old, old_line)  # hunks whose last old line < it
        return old_line + (self.shift_after[before - 1] if before else 0)


def line_maps(repo: Path, base: str, head: str, paths: list[str]) -> dict[str, LineMap]:
    """LineMaps of `paths` between two commits, keyed by the path at `head` (one
    `git diff -U0` with rename detection: give both old and new paths of a rename)."""
    if not paths:
        return {}
    pathspecs = paths if len(paths) <= MAX_PATHSPECS else []
    out = run_git(repo, *PLAIN_DIFF, "-U0", base, head, "--", *pathspecs).stdout
    text = out.decode("utf-8", "replace")
    maps: dict[str, LineMap] = {}
    current: LineMap | None = None
    for line in text.splitlines():
        if line.startswith("--- "):
            continue
        if line.startswith("+++ "):
            name = line[4:]
            current = maps.setdefault(name[2:], LineMap()) if name.startswith("b/") else None
            continue
        match = _HUNK_HEADER.match(line)
        if match and current is not None:
            old_len = 1 if match[2] is None else int(match[2])
            new_len = 1 if match[4] is None else int(match[4])
            current.hunks.append((int(match[1]), old_len, int(match[3]), new_len))
    return maps


def fixed(path: str, line: int) -> int | None:
    """The fate of an earlier finding a whole-tree reviewer did not report: fixed."""
    return None


def line_mover(
    repo: Path, base: str, sha: str, changed: tuple[str, ...]
) -> Callable[[str, int], int | None]:
    """(path at head, line at base) → its line at head; None when the delta changed it.
    Every changed file has its map, skipped ones too: without one, identical findings
    below an inserted line could not be paired by where they went."""
    maps = line_maps(repo, base, sha, list(changed))

    def moved(path: str, line: int) -> int | None:
        return maps[path].moved(line) if path in maps else line

    return moved


def partial_fate(
    files: tuple[FileDiff, ...],
    tree: dict[str, int],
    moved: Callable[[str, int], int | None] | None,
) -> Callable[[str, int], int | None]:
    """For a reviewer that saw only the delta's added lines (a model): where an
    earlier finding it did not report again is now, or None when it is fixed."""
    reviewed = {f.path for f in files}

    def fate(path: str, line: int) -> int | None:
        if path not in tree:
            return None  # the file is gone
        if path not in reviewed:
            return line  # untouched by this delta (or skipped): still open
        if moved is None:
            return None  # a full review saw the whole file and did not report it
        return moved(path, line)

    return fate
