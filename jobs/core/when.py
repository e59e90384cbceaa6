"""Times as the team reads them: in its own time zone ("Mon 7 Dec 06:00 CET"),
spans as people say them ("2 h ago"), schedules in words ("daily 06:00 CET")."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """The named zone; UTC for a name this system does not know (configuration checks
    the name; this never fails a message)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(at: datetime, timezone: str, *, date: bool = True) -> str:
    """'Mon 7 Dec 06:00 CET' (or '06:00 CET' without the date) in `timezone`."""
    local = at.astimezone(zone(timezone))
    clock = f"{local:%H:%M} {local.tzname() or timezone}"
    return f"{local:%a} {local.day} {local:%b} {clock}" if date else clock


def local_day(at: datetime, timezone: str) -> str:
    """'Mon 7 Dec' in `timezone`."""
    local = at.astimezone(zone(timezone))
    return f"{local:%a} {local.day} {local:%b}"


def span(delta: timedelta) -> str:
    """A span as people say it: 45 s, 2 min, 3 h 5 min, 2 days 4 h."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        minutes = seconds % 3600 // 60
        return f"{seconds // 3600} h" + (f" {minutes} min" if minutes else "")
    return f"{seconds // 86400} days {seconds % 86400 // 3600} h"


def ago(at: datetime, now: datetime) -> str:
    """'2 h ago', 'just now' for under a minute; 'in 5 min' for a time ahead."""
    delta = now - at
    if delta < timedelta(0):
        return f"in {span(-delta)}"
    if delta < timedelta(minutes=1):
        return "just now"
    return f"{span(delta)} ago"
