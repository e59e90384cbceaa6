"""The windows usage is read over: the calendar day, week (from Monday) or month to
now, in the scheduler's time zone, and the month a budget runs for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, cast
from zoneinfo import ZoneInfo

UsagePeriod = Literal["day", "week", "month"]
PERIODS: tuple[UsagePeriod, ...] = ("day", "week", "month")


def as_usage_period(text: str) -> UsagePeriod | None:
    value = text.lower()
    return cast("UsagePeriod", value) if value in PERIODS else None


@dataclass(frozen=True)
class Window:
    """[start, end] in UTC; `start` is a local midnight, `end` now."""

    period: UsagePeriod
    start: datetime
    end: datetime


def _midnight(local: datetime) -> datetime:
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def usage_window(period: UsagePeriod, now: datetime, timezone: str) -> Window:
    """The calendar day, week or month that holds `now`, from its start to `now`."""
    local = now.astimezone(ZoneInfo(timezone))
    day = _midnight(local)
    if period == "day":
        start = day
    elif period == "week":
        start = day - timedelta(days=day.weekday())
    else:
        start = day.replace(day=1)
    return Window(period, _utc(start), now)


def month_end(now: datetime, timezone: str) -> datetime:
    """The first local midnight of the next month, in UTC: when a monthly budget resets."""
    local = now.astimezone(ZoneInfo(timezone))
    first = _midnight(local).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return _utc(following)


def _utc(local: datetime) -> datetime:
    # A zoneinfo datetime's offset follows its wall time, so a midnight moved across a
    # DST change by replace() converts right.
    return local.astimezone(UTC)
