"""The health report as the operator's surface shows it: no filesystem paths, no
database URL, no error text that could quote either.

`/readyz` and `/api/health` may be reachable by more people than the config file;
the chat `/health` and `opsdesk health` keep the full details.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any

from jobs.health.component import Component, HealthReport

# Keys of Component.data that name a place on this machine or a connection.
_PRIVATE_KEYS = frozenset({"path", "url", "source"})
# An absolute path, or a connection string, anywhere in a text.
_PLACE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://\S+|(?<![\w.])/[^\s,;:'\"()]+)")


# A review of a local path is named `local:<absolute path>` (its job `review:local:…`):
# on this surface it is named by a short, stable id of the path instead.
# The name runs to the end of the text or the quote that ends a metric's label value
# (a path may hold spaces; in a sentence the rest of it is hidden too).
_LOCAL_NAME = re.compile(r'local:((?:[^"\\]|\\.)+)')


def _local_id(match: re.Match[str]) -> str:
    return "local:" + hashlib.sha256(match.group(1).encode("utf-8", "replace")).hexdigest()[:10]


def without_local_paths(text: str) -> str:
    """`review:local:/home/me/repo` → `review:local:3f9a1c02be`, wherever it appears."""
    return _LOCAL_NAME.sub(_local_id, text) if "local:" in text else text


def public_data(value: Any) -> Any:
    """JSON-like data with every local path's name replaced by its id."""
    if isinstance(value, str):
        return without_local_paths(value)
    if isinstance(value, dict):
        return {public_data(k): public_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [public_data(item) for item in value]
    return value


def scheduler_role(leading: bool | None) -> Component | None:
    """This process's part in scheduling, first in the operator's health report."""
    if leading is None:
        return None
    if leading:
        return Component("scheduler role", "up", "this process runs the scheduler")
    return Component(
        "scheduler role", "up", "standing by: another process holds the scheduler lock"
    )


def scrub(text: str) -> str:
    """Replace paths and URLs in free text by a mark."""
    return _PLACE.sub("[hidden]", text)


def _public(component: Component) -> Component:
    data = {k: v for k, v in component.data.items() if k not in _PRIVATE_KEYS}
    detail = component.detail
    if component.name == "config":
        detail = f"{data.get('repos', 0)} repositories, {data.get('jobs', 0)} jobs"
    elif component.name == "disk":
        detail = f"{data.get('free_mb', 0):,} MB free (minimum {data.get('min_free_mb', 0):,} MB)"
    elif component.name == "database" and component.status == "down":
        # "unreachable: OperationalError: connection to server at … failed": the type only.
        detail = ": ".join(part.strip() for part in detail.split(":", 2)[:2])
    return replace(component, detail=scrub(detail), data=_scrub_data(data))


def _scrub_data(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str):
            out[key] = scrub(value)
        elif isinstance(value, dict):
            out[key] = _scrub_data(value)
        else:
            out[key] = value
    return out


def public_report(report: HealthReport) -> HealthReport:
    return HealthReport(
        components=[_public(c) for c in report.components], checked_at=report.checked_at
    )
