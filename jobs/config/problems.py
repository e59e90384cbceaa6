"""pydantic's validation errors as lines a person can act on: the key's path, what is
wrong in the configuration's own terms, and the value given, scrubbed and cut."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from jobs.config.values import TARGET_PATTERN
from jobs.core import scrub


def describe_errors(error: ValidationError) -> list[str]:
    """pydantic's errors as 'repos[0].schedule: invalid cron expression … (got '…')'."""
    problems = []
    for item in error.errors():
        path = key_path(item["loc"])
        kind = item["type"]
        if kind == "extra_forbidden":
            problems.append(f"{path}: unknown key")
            continue
        message = str(item["msg"]).removeprefix("Value error, ")
        if kind == "string_pattern_mismatch" and item.get("ctx", {}).get("pattern") == (
            TARGET_PATTERN
        ):
            message = _target_message(str(item.get("input")))
        if kind == "missing":
            problems.append(f"{path}: required key is missing")
            continue
        if not item["loc"]:
            # Model-level checks (duplicate names, unknown batch) name the key themselves.
            problems.append(message)
            continue
        got = _short(item.get("input"))
        problems.append(f"{path}: {message}" + ("" if got in message else f" (got {got})"))
    return problems


def _target_message(target: str) -> str:
    """A post target or principal that does not parse, said in its own terms."""
    platform, colon, _rest = target.partition(":")
    if colon and platform not in ("slack", "telegram", "console", "log"):
        return f"unknown platform {platform!r}: use slack:, telegram:, console: or log:"
    return "not a target: use <platform>:<id> (slack:C0123, telegram:-100123, log:)"


def key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"


def _short(value: Any) -> str:
    text = scrub.scrub(repr(value))  # scrubbed BEFORE the cut, or a token's start shows
    return text if len(text) <= 80 else text[:77] + "..."
