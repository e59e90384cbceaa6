"""Compact number formatting shared by insight texts and digest lines."""

from __future__ import annotations

from jobs.plural import plural

__all__ = ["change", "count", "duration", "plural", "points", "rate"]


def duration(ms: float | None) -> str:
    """850ms, 12.3s, 4m 05s, 2h 14m; '-' when unknown."""
    if ms is None:
        return "-"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    if ms < 1000:
        return f"{sign}{ms:.0f}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{sign}{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{sign}{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours}h {minutes:02d}m"


def rate(value: float | None) -> str:
    """A 0..1 share as a whole percent; '-' when unknown."""
    return "-" if value is None else f"{value * 100:.0f}%"


def change(pct: float | None) -> str:
    """A relative change: '+12%', '-3%'; empty when unknown."""
    return "" if pct is None else f"{pct:+.0f}%"


def points(delta: float | None) -> str:
    """A change of a 0..1 share in percentage points: '-40 pts'; empty when unknown."""
    return "" if delta is None else f"{delta * 100:+.0f} pts"


def count(value: int) -> str:
    return f"{value:,}"
