"""/health: what is up, late or down."""

from __future__ import annotations

from handlers.router import Command, Request
from jobs import health as checks
from jobs.context import Context
from jobs.core.reply import Block, Reply, ReplyField
from jobs.health import HealthReport

_ICON = {"up": "✅", "paused": "⏸", "late": "⚠️", "degraded": "⚠️", "down": "❌"}


def health_report(context: Context, *, probe_model: bool = True) -> HealthReport:
    """The report as of the context's clock."""
    return checks.health_report(context, now=context.clock(), probe_model=probe_model)


def health_reply(report: HealthReport) -> Reply:
    return Reply(
        title=f"Health: {report.status}",
        blocks=[
            Block(text=f"{_ICON[c.status]} {c.name}: {c.status} — {c.detail}")
            for c in report.components
        ],
        fields=[ReplyField(label="Checked", value=report.checked_at.strftime("%H:%M UTC"))],
        status="ok" if report.healthy else "error",
    )


def health(request: Request) -> Reply:
    """Report every component's state."""
    return health_reply(health_report(request.context))


COMMANDS = [Command("health", "/health", "what is up, late or down", health)]
