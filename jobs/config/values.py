"""The values a configuration file writes: names, chat targets, time zones, cron
expressions, durations and schedules, each checked (and a duration parsed) once,
when the file is read."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,39}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
# A chat target or a principal: "<platform>:<id>", e.g. "slack:C0123", "telegram:-100123".
TARGET_PATTERN = r"^(slack|telegram|console|log):[A-Za-z0-9_@.+-]*$"
Target = Annotated[str, Field(pattern=TARGET_PATTERN)]


class Strict(BaseModel):
    """Unknown keys are mistakes (a typo must not silently become a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc
    return name


def check_cron(expression: str) -> str:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid cron expression {expression!r}: expected 5 fields "
            f"(minute hour day month weekday), got {len(fields)}"
        )
    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc
    return expression


_DURATION = re.compile(r"^\s*([0-9]{1,12})\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Every duration and interval is between these (a bigger one overflowed datetime
# arithmetic; a zero interval ran a job every second).
MIN_DURATION = timedelta(seconds=1)
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '2h', '1d', '1w' → timedelta, from 1s to 366d."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(
            f"invalid duration {text!r}: use a number and s, m, h, d or w (e.g. '15m')"
        )
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds < MIN_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is too short: the minimum is 1s")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is too long: the maximum is 366d")
    return timedelta(seconds=seconds)


def _duration(value: object) -> timedelta:
    # Text as the file writes it; a timedelta as code that builds a config passes it.
    if isinstance(value, timedelta):
        if not MIN_DURATION <= value <= MAX_DURATION:
            raise ValueError("a duration is from 1s to 366d")
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"invalid duration {value!r}: use a number and s, m, h, d or w (e.g. '15m')")


# A duration in the file ("15m"); in the model, a timedelta.
Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Schedule(Strict):
    """A cron expression or an interval; exactly one."""

    cron: Annotated[str, AfterValidator(check_cron)] | None = None
    every: Duration | None = None


def schedule_from(value: str | None) -> Schedule | None:
    """A schedule string in the config: a cron expression, or 'every 15m'."""
    if value is None:
        return None
    if value.startswith("every "):
        return Schedule(every=value.removeprefix("every ").strip())
    return Schedule(cron=value)


def check_schedule(value: str) -> str:
    if value.startswith("every "):
        parse_duration(value.removeprefix("every ").strip())
    else:
        check_cron(value)
    return value


ScheduleText = Annotated[str, AfterValidator(check_schedule)]
TimezoneName = Annotated[str, AfterValidator(check_timezone)]


def unique(section: str, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise ValueError(f"{section}[{index}].name: duplicate name {name!r}")
        seen.add(name)
