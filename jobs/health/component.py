"""What a health check reports: components and the overall status."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

# degraded: working, but something it does fails for good (posts to one channel).
Status = Literal["up", "paused", "late", "degraded", "down"]
_RANK: dict[str, int] = {"up": 0, "paused": 0, "late": 1, "degraded": 1, "down": 2}


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
        """Up, or degraded: posts to one target fail, but opsdesk itself serves (a
        load balancer's readiness check must not pull it for a channel's invite)."""
        return self.status in ("up", "degraded")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "healthy": self.healthy,
            "checked_at": self.checked_at.isoformat(),
            "components": [asdict(c) for c in self.components],
        }
