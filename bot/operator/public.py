"""The health report as the operator's surface shows it: no filesystem paths, no
database URL, no error text that could quote either.

`/readyz` and `/api/health` may be reachable by more people than the config file;
the chat `/health` and `opsdesk health` keep the full details.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from jobs.health import Component, HealthReport

# Keys of Component.data that name a place on this machine or a connection.
_PRIVATE_KEYS = frozenset({"path", "url", "source"})
# An absolute path, or a connection string, anywhere in a text.
_PLACE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://\S+|(?<![\w.])/[^\s,;:'\"()]+)")


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
