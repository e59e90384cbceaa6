"""/help: the commands that exist, for the caller's role."""

from __future__ import annotations

from handlers.access import Role
from handlers.router import Command, Request
from jobs.reply import Block, Reply


def help_(request: Request) -> Reply:
    """List the commands this caller may use."""
    lines = [
        f"{request.caller.typed(command.usage)} — {command.summary}"
        + (" (admins)" if command.role is Role.ADMIN else "")
        for command in sorted(request.router.commands.values(), key=lambda c: c.name)
        if request.role >= command.role
    ]
    return Reply(
        title="opsdesk commands",
        blocks=[Block(text="\n".join(lines), monospace=True)],
        note="Arguments in <angle brackets> are required, in [brackets] optional.",
    )


COMMANDS = [Command("help", "/help", "this list", help_, instant=True)]
