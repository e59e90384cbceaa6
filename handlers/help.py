"""/help: the commands that exist, for the caller's role."""

from __future__ import annotations

from handlers.access import Role
from handlers.router import Request
from jobs.core.reply import Block, Reply

CONSOLE_BUTTONS = (
    "Buttons: type the number shown as [n] to press that button, e.g. 3 for [3] False "
    "positive. A button keeps its number for the whole session: the same finding and "
    "verdict always show the same number, a press renumbers nothing, and a number from "
    "an earlier reply still does what its label said."
)
FEEDBACK = (
    "Feedback: Helpful, Not helpful, False positive and Resolved under each finding. A "
    "false positive hides that finding in its repository from then on, in every reply; "
    "/findings <repo> suppressed lists them with an undo button (admins, or whoever "
    "marked it). An admin's /mute <repo> <RULE> leaves a whole rule out there; "
    "/findings <repo> muted lists the muted rules."
)


def help_(request: Request) -> Reply:
    """List the commands this caller may use."""
    lines = [
        f"{request.caller.typed(command.usage)} — {command.summary}"
        + (" (admins)" if command.role is Role.ADMIN else "")
        for command in sorted(request.router.commands.values(), key=lambda c: c.name)
        if request.role >= command.role
    ]
    blocks = [Block(text="\n".join(lines), monospace=True), Block(text=FEEDBACK)]
    if request.caller.platform == "console":
        blocks.append(Block(text=CONSOLE_BUTTONS))
    return Reply(
        title="opsdesk commands",
        blocks=blocks,
        note="Arguments in <angle brackets> are required, in [brackets] optional.",
    )
