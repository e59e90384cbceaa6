"""Where earlier findings went: old-file lines a delta changed, and how the others moved.

A model reviewer judges only added lines, so an earlier finding in a changed file that is
not reported again may simply sit on an untouched line. It is fixed only when the
delta changed or removed its line; otherwise it stays open, at its shifted line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from jobs.review.git import PLAIN_DIFF, run_git

MAX_PATHSPECS = 500  # beyond this, diff everything rather than build a huge command line
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class LineMap:
    """Zero-context hunks of one file: (old_start, old_len, new_start, new_len)."""

    hunks: list[tuple[int, int, int, int]] = field(default_factory=list)

    def moved(self, old_line: int) -> int | None:
        """The line's new number, or None when the delta changed or removed it."""
        shift = 0
        for old_start, old_len, _new_start, new_len in self.hunks:
            if old_len and old_start <= old_line < old_start + old_len:
                return None
            # A pure insertion "-N,0" sits after old line N.
            last_old = old_start + old_len - 1 if old_len else old_start
            if last_old < old_line:
                shift += new_len - old_len
        return old_line + shift


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
