"""/health: what is up, late or down."""

from __future__ import annotations

from handlers.router import Command, Request
from handlers.services import Services
from jobs.health import HealthReport, check_config, check_database
from jobs.reply import Block, Reply, ReplyField

_ICON = {"up": "✅", "paused": "⏸", "late": "⚠️", "down": "❌"}


def health_report(services: Services) -> HealthReport:
    config = services.config
    components = [
        *check_database(services.engine),
        check_config(services.config_source, len(config.repos), len(config.jobs)),
    ]
    return HealthReport(components=components, checked_at=services.clock())


def health_reply(report: HealthReport) -> Reply:
    return Reply(
        title=f"Health: {report.status}",
        blocks=[
            Block(text=f"{_ICON[c.status]} {c.name}: {c.status} — {c.detail}")
            for c in report.components
        ],
        fields=[
            ReplyField(label="Checked", value=report.checked_at.strftime("%Y-%m-%d %H:%M UTC"))
        ],
        status="ok" if report.healthy else "error",
    )


def health(request: Request) -> Reply:
    """Report every component's state."""
    return health_reply(health_report(request.services))


COMMANDS = [Command("health", "/health", "what is up, late or down", health)]
