"""Health: each component up, late, down or paused — derived at read time.

The overall status is the worst component's. Later checks (scheduler, jobs, model
endpoint, chat adapters) add components through the same shape.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage import schema
from storage.db import describe

Status = Literal["up", "paused", "late", "down"]
_RANK: dict[str, int] = {"up": 0, "paused": 0, "late": 1, "down": 2}


@dataclass(frozen=True)
class Component:
    name: str
    status: Status
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReport:
    components: list[Component]
    checked_at: datetime

    @property
    def status(self) -> Status:
        if not self.components:
            return "up"
        worst = max(self.components, key=lambda c: _RANK[c.status])
        return "up" if worst.status == "paused" else worst.status

    @property
    def healthy(self) -> bool:
        return self.status == "up"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "healthy": self.healthy,
            "checked_at": self.checked_at.isoformat(),
            "components": [asdict(c) for c in self.components],
        }


def check_database(engine: Engine) -> list[Component]:
    """Database round trip, then whether its schema is the one this code knows."""
    try:
        started = time.perf_counter()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        round_trip_ms = (time.perf_counter() - started) * 1000
    except Exception as exc:
        return [Component("database", "down", f"unreachable: {type(exc).__name__}: {exc}")]
    database = Component(
        "database",
        "up",
        f"{engine.dialect.name}, round trip {round_trip_ms:.1f} ms",
        {"round_trip_ms": round(round_trip_ms, 2), "url": describe(engine)},
    )
    try:
        found = schema.check(engine)
    except schema.SchemaError as exc:
        return [database, Component("schema", "down", str(exc))]
    if found.is_current:
        state = Component("schema", "up", f"at {found.head}", {"revision": found.current})
    else:
        state = Component(
            "schema",
            "down",
            f"at {found.current or 'nothing (empty database)'}, needs {found.head}: "
            "run `opsdesk db upgrade`",
            {"revision": found.current, "head": found.head},
        )
    return [database, state]


def check_config(source: str, repos: int, jobs: int) -> Component:
    return Component(
        "config",
        "up",
        f"loaded from {source}: {repos} repositories, {jobs} jobs",
        {"source": source, "repos": repos, "jobs": jobs},
    )
