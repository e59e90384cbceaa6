from __future__ import annotations

import pytest
from pydantic import ValidationError

from jobs.review.finding import Finding, finding_fingerprint, normalize_message


def make(message: str, line: int = 3, path: str = "a.py", category: str = "bug") -> Finding:
    return Finding(
        path=path, line=line, severity="warning", category=category, message=message,
        suggestion=None, source="ruff:F401",
    )  # fmt: skip


def test_fingerprint_survives_a_move_and_reformatted_text() -> None:
    here = make("Variable `x` is unused (line 12)", line=12)
    moved = make("variable   `x` is unused  (line 40)", line=40)
    assert finding_fingerprint(here) == finding_fingerprint(moved)
    assert len(finding_fingerprint(here)) == 64


def test_fingerprint_differs_by_path_category_and_message() -> None:
    base = finding_fingerprint(make("x is unused"))
    assert base != finding_fingerprint(make("x is unused", path="b.py"))
    assert base != finding_fingerprint(make("x is unused", category="style"))
    assert base != finding_fingerprint(make("y is unused"))


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Error at 12:5 here", "error at here"),
        ("See Lines 3-4 and L7", "see and"),
        ("  Mixed\tCASE\n text ", "mixed case text"),
        ("a.py:12 bad", "a.py bad"),
    ],
)
def test_message_normalization(raw: str, normalized: str) -> None:
    assert normalize_message(raw) == normalized


def test_invalid_findings_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Finding(path="a.py", line=0, severity="fatal", category="x", message="m", source="s")  # type: ignore[arg-type]
