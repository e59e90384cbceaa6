"""Planning pieces: whole files, then hunks, then windows of lines; every added line
lands in exactly one piece unless a single line is too large."""

from __future__ import annotations

from jobs.review.diff import DiffLine, FileDiff, Hunk
from jobs.review.llm.split import halves, plan_pieces


def hunk(start: int, added: int, context: int = 1, removed: int = 0) -> Hunk:
    lines = [DiffLine(" ", "ctx", start)]
    lines += [DiffLine("-", "old", None) for _ in range(removed)]
    lines += [DiffLine("+", f"new {n}", start + 1 + n) for n in range(added)]
    lines += [DiffLine(" ", "ctx", start + 1 + added + n) for n in range(context - 1)]
    return Hunk(start, context + added, tuple(lines))


def file(path: str, *hunks: Hunk) -> FileDiff:
    return FileDiff(path, path, "modified", False, hunks)


def lines_cost(f: FileDiff) -> int:
    """A stand-in cost: a header plus one per line."""
    return 2 + sum(len(h.lines) for h in f.hunks)


def added(pieces: list[tuple[FileDiff, ...]]) -> list[tuple[str, int]]:
    return sorted((f.path, n) for piece in pieces for f in piece for n in f.added_lines)


def test_small_files_share_a_piece_and_large_ones_are_cut_by_hunk_then_lines() -> None:
    files = [
        file("a.py", hunk(1, 2)),
        file("b.py", hunk(1, 2)),
        file("big.py", hunk(1, 3), hunk(20, 3), hunk(40, 3)),
        file("huge.py", hunk(1, 30)),
    ]
    plan = plan_pieces(files, lines_cost, limit=12)
    assert plan.too_large == []
    assert all(sum(lines_cost(f) for f in piece) <= 12 for piece in plan.pieces)
    assert [f.path for f in plan.pieces[0]] == ["a.py", "b.py"]
    # Every added line is in exactly one piece: nothing dropped, nothing twice.
    expected = sorted((f.path, n) for f in files for n in f.added_lines)
    assert added(plan.pieces) == expected
    # Parts of one file in one piece are one entry (one "### path" header).
    for piece in plan.pieces:
        assert len({f.path for f in piece}) == len(piece)


def test_a_single_line_larger_than_a_call_is_too_large() -> None:
    long_line = Hunk(5, 1, (DiffLine("+", "x" * 500, 5),))
    files = [file("table.py", long_line, hunk(10, 1)), file("ok.py", hunk(1, 1))]
    plan = plan_pieces(files, lambda f: sum(len(ln.text) for h in f.hunks for ln in h.lines), 100)
    assert [(f.path, f.added_lines) for f in plan.too_large] == [("table.py", frozenset({5}))]
    assert added(plan.pieces) == [("ok.py", 2), ("table.py", 11)]


def test_halves_cut_files_then_hunks_then_lines_and_stop_at_one_line() -> None:
    two = (file("a.py", hunk(1, 1)), file("b.py", hunk(1, 1)))
    assert [[f.path for f in p] for p in halves(two) or []] == [["a.py"], ["b.py"]]
    one_hunk = (file("a.py", hunk(1, 4, context=2, removed=1)),)
    parts = halves(one_hunk) or []
    assert parts and all(len(p[0].hunks[0].lines) < 8 for p in parts)
    assert added(parts) == added([one_hunk])
    single = (file("a.py", Hunk(3, 1, (DiffLine("+", "x", 3),))),)
    assert halves(single) is None
