"""The slash commands opsdesk declares in Slack: the one list that the routing uses
and that bot/slack/manifest.py prints the manifest from (usage hints come from the
router's commands).

Everything goes through one command, `/opsdesk <command> [args]`, so every handler
command is reachable without touching Slack's app settings, and a busy workspace
gets one new name, not ten. A few short aliases run one command directly; keep them
few: each is one more name that can collide with another app's.
"""

from __future__ import annotations

from dataclasses import dataclass

MAIN_COMMAND = "/opsdesk"


@dataclass(frozen=True)
class SlashCommand:
    name: str  # as typed in Slack, with the slash; at most 32 characters
    description: str
    runs: str | None = None  # the handler command an alias runs; None: the first word


SLASH_COMMANDS: list[SlashCommand] = [
    SlashCommand(
        MAIN_COMMAND,
        "opsdesk: reviews, findings, jobs, digest, health (help lists all)",
    ),
    SlashCommand("/od-health", "opsdesk: what is up, late or down", runs="health"),
    SlashCommand(
        "/od-review", "opsdesk: review a repository (cached, delta or full)", runs="review"
    ),
]


def routes(main_command: str = MAIN_COMMAND) -> dict[str, SlashCommand]:
    """Slash command name → its declaration; the main one under its configured name."""
    table = {}
    for command in SLASH_COMMANDS:
        name = main_command if command.runs is None else command.name
        table[name] = command
    return table


def command_line(command: SlashCommand, text: str) -> str:
    """What the router gets: '/opsdesk review api' → '/review api', '/opsdesk' →
    '/help', '/od-health' → '/health'."""
    text = text.strip()
    if command.runs is not None:
        return f"/{command.runs} {text}".strip()
    return "/" + (text.removeprefix("/") or "help")
