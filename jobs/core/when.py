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


_DAYS = ["Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays"]
_DAY_SETS = {"1-5": "weekdays", "mon-fri": "weekdays", "0,6": "weekends", "6,0": "weekends"}


def _times(minutes: str, hours: str) -> list[str] | None:
    """'06:00', or several, for cron minute and hour fields of plain numbers."""
    try:
        return [f"{int(h):02d}:{int(m):02d}" for h in hours.split(",") for m in minutes.split(",")]
    except ValueError:
        return None


def _days(day_of_month: str, month: str, day_of_week: str) -> str | None:
    if day_of_month != "*" or month != "*":
        return None
    if day_of_week in ("*", "?"):
        return "daily"
    if day_of_week.lower() in _DAY_SETS:
        return _DAY_SETS[day_of_week.lower()]
    if day_of_week.isdigit() and int(day_of_week) <= 7:
        return _DAYS[int(day_of_week) % 7]
    return None


def schedule_words(schedule: str, timezone: str, now: datetime) -> str:
    """A schedule as people say it: 'daily 06:00 CET', 'weekdays 09:30 CET', 'Mondays
    07:00 CET', 'hourly at :15', 'every 15m'. A cron expression it cannot put in
    words is shown as it is, with its zone."""
    if schedule.startswith("every "):
        return schedule
    fields = schedule.split()
    abbreviation = now.astimezone(zone(timezone)).tzname() or timezone
    if len(fields) != 5:
        return f"{schedule} ({abbreviation})"
    minutes, hours, day_of_month, month, day_of_week = fields
    days = _days(day_of_month, month, day_of_week)
    if days == "daily" and hours == "*" and minutes.isdigit():
        return f"hourly at :{int(minutes):02d}"
    if days == "daily" and hours == "*" and minutes.startswith("*/"):
        return f"every {minutes[2:]} min"
    times = _times(minutes, hours)
    if days is None or times is None or len(times) > 3:
        return f"{schedule} ({abbreviation})"
    return f"{days} {' and '.join(times)} {abbreviation}"
