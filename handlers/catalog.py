"""Every command and button handler opsdesk has, in one place."""

from __future__ import annotations

from handlers import budget, digest, feedback, health, help, jobs, mutes, outbox, review, usage
from handlers.router import Action, Command, Router
from jobs.context import Context

COMMANDS: list[Command] = [
    *help.COMMANDS,
    *health.COMMANDS,
    *review.COMMANDS,
    *mutes.COMMANDS,
    *jobs.COMMANDS,
    *outbox.COMMANDS,
    *digest.COMMANDS,
    *usage.COMMANDS,
    *budget.COMMANDS,
]
ACTIONS: list[Action] = [*feedback.ACTIONS, *mutes.ACTIONS]


def build_router(context: Context) -> Router:
    return Router(context, COMMANDS, ACTIONS)
