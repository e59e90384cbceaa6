"""Cut a diff into pieces that each fit one model call: whole files where they
fit, a file's hunks where the file does not, and windows of a hunk's lines where a
single hunk does not. Pure: the caller says what a file costs and what one call
may hold.

A piece is a tuple of FileDiffs; a file cut into parts keeps its path, so findings
from any part land on the same file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from jobs.review.diff import FileDiff, Hunk

Piece = tuple[FileDiff, ...]
Cost = Callable[[FileDiff], int]


@dataclass(frozen=True)
class Plan:
    pieces: list[Piece]
    # Files (or parts of them) that do not fit one call even alone: a single line
    # longer than the whole context. Their paths are not reviewed.
    too_large: list[FileDiff]
    costs: list[int] = field(default_factory=list)  # per piece, the sum of its parts' costs


def _with_hunks(file: FileDiff, hunks: Sequence[Hunk]) -> FileDiff:
    return replace(file, hunks=tuple(hunks))


def hunk_window(hunk: Hunk, start: int, stop: int) -> Hunk | None:
    """Lines [start, stop) of a hunk as a hunk of their own; None when that window
    adds nothing (only removed or context lines: nothing to review)."""
    lines = hunk.lines[start:stop]
    if not any(line.kind == "+" for line in lines):
        return None
    numbered = [line.new_line for line in lines if line.new_line is not None]
    first = numbered[0] if numbered else hunk.new_start
    return Hunk(new_start=first, new_len=len(numbered), lines=lines)


def halves(piece: Piece) -> list[Piece] | None:
    """The piece cut in two (by files, else hunks, else lines), or None when it is a
    single line that cannot be cut."""
    if len(piece) > 1:
        middle = len(piece) // 2
        return [piece[:middle], piece[middle:]]
    (file,) = piece
    if len(file.hunks) > 1:
        middle = len(file.hunks) // 2
        first, second = file.hunks[:middle], file.hunks[middle:]
        return [(_with_hunks(file, first),), (_with_hunks(file, second),)]
    if len(file.hunks) == 1 and len(file.hunks[0].lines) > 1:
        hunk = file.hunks[0]
        middle = len(hunk.lines) // 2
        parts = [hunk_window(hunk, 0, middle), hunk_window(hunk, middle, len(hunk.lines))]
        return [(_with_hunks(file, [part]),) for part in parts if part is not None]
    return None


def _parts(
    file: FileDiff, cost: Cost, limit: int
) -> tuple[list[tuple[FileDiff, int]], list[FileDiff]]:
    """A file as parts that each fit (the whole file when it does), with their
    costs, and what cannot fit."""
    fitting: list[tuple[FileDiff, int]] = []
    too_large: list[FileDiff] = []
    pending: list[Piece] = [(file,)]
    while pending:
        (part,) = pending.pop(0)
        part_cost = cost(part)
        if part_cost <= limit:
            fitting.append((part, part_cost))
            continue
        cut = halves((part,))
        if cut is None:
            too_large.append(part)
        else:
            pending[:0] = cut  # keep the file's order
    return fitting, too_large


def plan_pieces(files: Sequence[FileDiff], cost: Cost, limit: int) -> Plan:
    """Files packed in order into pieces whose summed cost stays within `limit`."""
    pieces: list[Piece] = []
    costs: list[int] = []
    too_large: list[FileDiff] = []
    current: list[FileDiff] = []
    used = 0
    for file in files:
        parts, unfit = _parts(file, cost, limit)
        too_large += unfit
        for part, part_cost in parts:
            if current and used + part_cost > limit:
                pieces.append(tuple(current))
                costs.append(used)
                current, used = [], 0
            if current and current[-1].path == part.path:  # parts of one file: one entry
                current[-1] = _with_hunks(part, current[-1].hunks + part.hunks)
            else:
                current.append(part)
            used += part_cost
    if current:
        pieces.append(tuple(current))
        costs.append(used)
    return Plan(pieces, too_large, costs)
