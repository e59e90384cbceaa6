"""New, open and fixed by identity, as a multiset, through renames (pure logic)."""

from __future__ import annotations

from jobs.review.baseline import Earlier, compare
from jobs.review.finding import Finding


def found(path: str, line: int, message: str = "`os` imported but unused") -> Finding:
    return Finding(path=path, line=line, severity="warning", category="F401", message=message,
                   source="ruff:F401")  # fmt: skip


def earlier(
    handle: int, path: str, line: int, message: str = "`os` imported but unused"
) -> Earlier[int]:
    return Earlier(handle, path, "F401", message, line)


def test_lines_do_not_matter_identity_does() -> None:
    result = compare([found("a.py", 40)], [earlier(1, "a.py", 3)])
    assert [(now.finding.line, before.handle) for now, before in result.still_open] == [(40, 1)]
    assert not result.new and not result.gone


def test_identical_findings_are_a_multiset() -> None:
    result = compare([found("a.py", 1), found("a.py", 9), found("a.py", 20)],
                     [earlier(1, "a.py", 1), earlier(2, "a.py", 9)])  # fmt: skip
    assert len(result.still_open) == 2 and [n.finding.line for n in result.new] == [20]
    fingerprints = {now.fingerprint for now, _ in result.still_open} | {result.new[0].fingerprint}
    assert len(fingerprints) == 3


def test_moved_lines_pair_identical_findings_with_themselves() -> None:
    # The first of two was fixed (line 2 removed); the second moved from line 5 to 4.
    def moved(path: str, line: int) -> int | None:
        return None if line == 2 else line - 1

    result = compare(
        [found("a.py", 4)], [earlier(1, "a.py", 2), earlier(2, "a.py", 5)], moved=moved
    )
    assert [before.handle for _, before in result.still_open] == [2]
    assert [before.handle for before, _path in result.gone] == [1]


def test_a_renamed_file_keeps_its_findings() -> None:
    result = compare([found("new.py", 1)], [earlier(1, "old.py", 1)], {"old.py": "new.py"})
    assert [before.handle for _, before in result.still_open] == [1]
    gone = compare([], [earlier(1, "old.py", 1)], {"old.py": "new.py"}).gone
    assert [(before.handle, path) for before, path in gone] == [(1, "new.py")]


def test_a_different_message_is_a_different_finding() -> None:
    result = compare([found("a.py", 1, "`sys` imported but unused")], [earlier(1, "a.py", 1)])
    assert len(result.new) == 1 and [b.handle for b, _ in result.gone] == [1]
