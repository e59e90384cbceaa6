"""What to do about a component that is not up: one sentence a person can act on,
from the component's name and what its check found. Pure."""

from __future__ import annotations

from jobs.health.component import Component

# opsdesk's own scheduled jobs (jobs.runs.system): internals, like the database.
SYSTEM_JOBS = frozenset({"digest", "health"})

_FIXES = {
    "database": "check `database_url` and that the database server answers; "
    "`opsdesk health` on the host shows more",
    "scheduler": "start `opsdesk run` (or restart it): nothing fires jobs while it is down",
    "slack": "check the Slack tokens and the network; the adapter reconnects by itself",
    "telegram": "check the Telegram token and the network; the adapter reconnects by itself",
    "outbox": "start `opsdesk run` with that platform enabled so the posts go out",
    "disk": "free some disk space where the database lives",
    "model": "check `[reviewer.llm] base_url` and the API key; reviews wait until it answers",
    "memory": "restart `opsdesk run`",
}


def is_internal(component: Component) -> bool:
    """opsdesk's own parts (database, schema, memory, its digest and health jobs…), as
    opposed to the team's jobs and chats: shown only on request or when they fail."""
    job = component.data.get("job")
    if job is not None:
        return job in SYSTEM_JOBS
    return component.name not in ("slack", "telegram", "model")


def fix_for(component: Component) -> str | None:
    """The next step for a component that is not up; None when its detail says it
    already (the schema's `opsdesk db upgrade`, a channel's invite) or it is fine."""
    if component.status in ("up", "paused"):
        return None
    job = component.data.get("job")
    if job is not None:
        detail = component.detail
        if "has not finished" in detail:
            return f"it is reclaimed when its process is gone; then `/run {job}`"
        if detail.startswith("last run"):
            return f"see its last output with `/run {job}` (or in the log) and fix the cause"
        return "check that the scheduler runs (`/health all`)"
    if component.name.startswith("posts to ") or "opsdesk db upgrade" in component.detail:
        return None
    return _FIXES.get(component.name)
