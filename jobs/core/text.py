"""Counts in words, right for one and for many ('1 run', '2 runs'), everywhere."""

from __future__ import annotations


def plural(value: int, noun: str, many: str | None = None) -> str:
    """'1 run', '2 runs', '1,204 cache hits'; `many` for irregular plurals."""
    return f"{value:,} {noun if value == 1 else (many or noun + 's')}"
