"""/health [all]: one line when all is up; else the problems first, each with its cause
and what to do. `all` lists every component, opsdesk's internals included."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.router import Request, UsageError
from jobs.context import Context
from jobs.core.reply import Block, Reply
from jobs.core.when import ago, local_time
from jobs.health import checks
from jobs.health.advice import SYSTEM_JOBS, fix_for, is_internal
from jobs.health.component import Component, HealthReport

_ICON = {"up": "✅", "paused": "⏸", "late": "⚠️", "degraded": "⚠️", "down": "❌"}
_A_DAY = timedelta(days=1)


def health_report(context: Context, *, probe_model: bool = True) -> HealthReport:
    """The report as of the context's clock."""
    return checks.health_report(context, now=context.clock(), probe_model=probe_model)


def _next_run(report: HealthReport, timezone: str) -> str:
    """'next run: backup at 08:00 CET (in 2 h)' — the team's next scheduled job."""
    upcoming = [
        (datetime.fromisoformat(c.data["next_fire"]), c.data["job"])
        for c in report.components
        if c.data.get("next_fire") and c.data.get("job") not in SYSTEM_JOBS and c.status != "paused"
    ]
    if not upcoming:
        return ""
    at, job = min(upcoming)
    when = local_time(at, timezone, date=at - report.checked_at > _A_DAY)
    return f" · next run: {job} at {when} ({ago(at, report.checked_at)})"


def _problem(component: Component, prefix: str = "/") -> str:
    """The problem and its fix, the fix's commands as typed where it is read (`prefix`:
    "/opsdesk " in Slack)."""
    line = f"{_ICON[component.status]} {component.name}: {component.detail}"
    fix = (fix_for(component) or "").replace("`/", f"`{prefix}")
    return line + (f"\nFix: {fix}" if fix else "")


def health_reply(
    report: HealthReport,
    timezone: str = "UTC",
    *,
    everything: bool = False,
    more: str = "/health all",
    prefix: str = "/",
) -> Reply:
    """All up: one line with the next scheduled run. Otherwise the problems first, each
    with its fix, then one line for the rest (`more` is how to ask for every
    component). `everything`: every component."""
    status = "ok" if report.healthy else "error"
    if everything:
        lines = [f"{_ICON[c.status]} {c.name}: {c.status} — {c.detail}" for c in report.components]
        checked = local_time(report.checked_at, timezone, date=False)
        return Reply(
            title=f"Health: {report.status} (checked {checked})",
            blocks=[Block(text="\n".join(lines))],
            status=status,
        )
    problems = [c for c in report.components if c.status not in ("up", "paused")]
    paused = [c.data.get("job", c.name) for c in report.components if c.status == "paused"]
    held = f" ({len(paused)} paused: {', '.join(paused)})" if paused else ""
    if not problems:
        return Reply(
            blocks=[Block(text=f"✅ All up{held}{_next_run(report, timezone)}")], status=status
        )
    noun = "problem" if len(problems) == 1 else "problems"
    rest = len(report.components) - len(problems) - len(paused)
    tail = f"Everything else is up{held}." if rest else ""
    if any(is_internal(c) for c in report.components if c not in problems):
        tail += f" Details: {more}"
    return Reply(
        title=f"Health: {report.status}, {len(problems)} {noun}",
        blocks=[Block(text=_problem(c, prefix)) for c in problems] + [Block(text=tail.strip())],
        status=status,
    )


def health(request: Request) -> Reply:
    """What is wrong and what to do about it; `all`: every component."""
    if request.args not in ([], ["all"]):
        raise UsageError("Say /health, or /health all for every component.")
    context = request.context
    report = health_report(context)
    timezone = context.config.scheduler.timezone
    more = request.caller.typed("/health all")
    everything = request.args == ["all"]
    prefix = request.caller.command_prefix
    return health_reply(report, timezone, everything=everything, more=more, prefix=prefix)
