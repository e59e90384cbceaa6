"""Small descriptive statistics for the digest, robust to empty input.

Every function takes any iterable of numbers and returns None when there is too
little data to say anything, so callers never special-case empty histories.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

# Scales the MAD so that it estimates the standard deviation of normal data.
MAD_TO_SIGMA = 1.4826


def _sorted(values: Iterable[float]) -> list[float]:
    return sorted(float(value) for value in values)


def _quantile_of_sorted(ordered: Sequence[float], fraction: float) -> float:
    # Linear interpolation between closest ranks (Hyndman & Fan type 7, NumPy's
    # default): position h = (n - 1) * fraction, between ordered[floor h] and the next.
    position = (len(ordered) - 1) * fraction
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * weight


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0 ≤ q ≤ 100) by linear interpolation between closest ranks.

    For sorted values x[0..n-1] the position is h = (n - 1) · q / 100 and the result
    x[⌊h⌋] + (h - ⌊h⌋) · (x[⌊h⌋ + 1] - x[⌊h⌋]); this is NumPy's default ("linear"),
    so p50 of [1, 2, 3, 4] is 2.5 and p95 of 1..20 is 19.05. None when empty.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    ordered = _sorted(values)
    if not ordered:
        return None
    return _quantile_of_sorted(ordered, q / 100)


def median(values: Iterable[float]) -> float | None:
    """The median (the 50th percentile); None when empty."""
    return percentile(values, 50)


def mad(values: Iterable[float]) -> float | None:
    """Median absolute deviation from the median, unscaled; None when empty.

    Multiply by MAD_TO_SIGMA to compare it with a standard deviation.
    """
    ordered = _sorted(values)
    if not ordered:
        return None
    centre = _quantile_of_sorted(ordered, 0.5)
    return median(abs(value - centre) for value in ordered)


def stdev(values: Iterable[float]) -> float | None:
    """Sample standard deviation (divides by n - 1); None for fewer than two values."""
    data = [float(value) for value in values]
    if len(data) < 2:
        return None
    mean = math.fsum(data) / len(data)
    return math.sqrt(math.fsum((value - mean) ** 2 for value in data) / (len(data) - 1))


def ratio(part: float, whole: float) -> float | None:
    """part / whole, or None when whole is zero (a rate of nothing is unknown, not 0)."""
    return None if whole == 0 else part / whole


def change_pct(current: float | None, previous: float | None) -> float | None:
    """Relative change in percent, or None when either side is unknown or previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous * 100
