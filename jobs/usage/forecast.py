"""The month-end forecast: usage so far plus the trailing days' rate until the month
ends, against the budget. Pure arithmetic; the reads are the caller's.

    projected = used + rate_per_day * days_left
    over from = now + (budget - used) / rate_per_day   (when projected > budget > used)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

# The rate is taken over this many trailing days (fewer when usage began more recently).
TRAILING_DAYS = 7
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Forecast:
    """One scope's month: `scope` is a repository or "all"."""

    scope: str
    used: int
    rate_per_day: float
    projected: int
    month_end: datetime
    budget: int | None = None
    over_from: datetime | None = None  # when the budget is projected to run out

    @property
    def over(self) -> bool:
        return self.budget is not None and self.projected > self.budget

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.used >= self.budget

    def against(self, budget: int | None, now: datetime) -> Forecast:
        """The same forecast measured against `budget`."""
        over_from = None
        if budget is not None and self.used < budget < self.projected and self.rate_per_day > 0:
            over_from = now + (budget - self.used) / self.rate_per_day * _DAY
        return replace(self, budget=budget, over_from=over_from)

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "used": self.used,
            "rate_per_day": round(self.rate_per_day, 3),
            "projected": self.projected,
            "month_end": self.month_end.isoformat(),
            "budget": self.budget,
            "over_from": self.over_from.isoformat() if self.over_from else None,
        }


def trailing_span(now: datetime, first_use: datetime | None) -> timedelta:
    """The span the rate is measured over: the trailing days, or since the first use
    when that is more recent (at least a day, so one early review is no storm)."""
    span = timedelta(days=TRAILING_DAYS)
    if first_use is not None:
        span = min(span, max(now - first_use, _DAY))
    return span


def forecast(
    scope: str,
    *,
    used: int,
    trailing: int,
    span: timedelta,
    now: datetime,
    month_end: datetime,
    budget: int | None = None,
) -> Forecast:
    """`used`: this month so far; `trailing`: what the trailing `span` spent."""
    rate = trailing / (span / _DAY) if span > timedelta(0) else 0.0
    days_left = max(month_end - now, timedelta(0)) / _DAY
    projected = round(used + rate * days_left)
    return Forecast(scope, used, rate, projected, month_end).against(budget, now)
