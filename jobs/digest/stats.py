"""The few statistics the digest uses, from the standard library's `statistics`.

Each returns None where the figure is unknown (no values, a rate of nothing),
rather than raising: a job with no runs in a period has no median, and the digest
says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0 ≤ q ≤ 100), interpolated between closest ranks as
    NumPy's default does ("linear", `statistics.quantiles(method="inclusive")`): p50 of
    [1, 2, 3, 4] is 2.5 and p95 of 1..20 is 19.05. None when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    data = [float(value) for value in values]
    if len(data) < 2:
        return data[0] if data else None
    if q in (0, 100):
        return min(data) if q == 0 else max(data)
    # quantiles(n) returns the n - 1 cut points; a whole percent needs a hundred of
    # them, a fractional one a finer grid (rare: the digest asks for p50 and p95).
    steps = 100 if float(q).is_integer() else 10_000
    cut = round(q * steps / 100)
    return statistics.quantiles(data, n=steps, method="inclusive")[cut - 1]


def median(values: Iterable[float]) -> float | None:
    """The median; None when empty."""
    data = [float(value) for value in values]
    return statistics.median(data) if data else None


def mad(values: Iterable[float]) -> float | None:
    """Median absolute deviation from the median, unscaled; None when empty.

    Multiply by insights.MAD_TO_SIGMA to compare it with a standard deviation."""
    data = [float(value) for value in values]
    if not data:
        return None
    centre = statistics.median(data)
    return statistics.median(abs(value - centre) for value in data)


def stdev(values: Iterable[float]) -> float | None:
    """Sample standard deviation (divides by n - 1); None for fewer than two values."""
    data = [float(value) for value in values]
    return statistics.stdev(data) if len(data) >= 2 else None


def ratio(part: float, whole: float) -> float | None:
    """part / whole, or None when whole is zero (a rate of nothing is unknown, not 0)."""
    return None if whole == 0 else part / whole


def change_pct(current: float | None, previous: float | None) -> float | None:
    """Relative change in percent, or None when either side is unknown or previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous * 100
