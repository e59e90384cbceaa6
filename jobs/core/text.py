"""Numbers and counts in words, one way everywhere: "1 run", "2 runs", "12.3s", "+12%";
and the name a typo meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import timedelta


def plural(value: int, noun: str, many: str | None = None) -> str:
    """'1 run', '2 runs', '1,204 cache hits'; `many` for irregular plurals."""
    return f"{value:,} {noun if value == 1 else (many or noun + 's')}"


def duration(ms: float | None) -> str:
    """0.4ms, 850ms, 12.3s, 4m 05s, 2h 14m; '-' when unknown."""
    if ms is None:
        return "-"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    if 0 < ms < 10:
        return f"{sign}{ms:.1f}ms"  # a database's round trip
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


def span(delta: timedelta) -> str:
    """A stretch of time in `duration`'s words; one that comes out negative (two
    machines' clocks apart) reads as none."""
    return duration(max(delta, timedelta(0)) / timedelta(milliseconds=1))


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


def compact(value: float) -> str:
    """Token counts as people say them: 950, 12.4k, 2.6M, 1.2B."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".removesuffix(".0") + suffix
    return f"{value:,.0f}"


def money(amount: float, currency: str) -> str:
    """'12.40 USD'; small amounts keep four decimals ('0.0031 USD')."""
    digits = 4 if 0 < abs(amount) < 1 else 2
    return f"{amount:,.{digits}f} {currency}"


def closest(name: str, names: Iterable[str]) -> str | None:
    """The one of `names` that `name` most likely misspells ('clik' → 'click'), case
    aside; None when none is close."""
    by_folded = {known.casefold(): known for known in names}
    found = difflib.get_close_matches(name.casefold(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[found[0]] if found else None
