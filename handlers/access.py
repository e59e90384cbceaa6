"""Who may do what: one check for every platform.

Viewers may read and give feedback; admins may also run and pause jobs; unknown
users are refused. The local console is the machine's owner and always admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from jobs.config.schema import AccessConfig


class Role(IntEnum):
    NONE = 0
    VIEWER = 1
    ADMIN = 2


@dataclass(frozen=True)
class Caller:
    """Who sent a command or pressed a button, and where."""

    platform: str  # slack | telegram | console
    user_id: str
    chat_id: str | None = None
    name: str = ""
    # How commands are typed where the caller is: "/" in Telegram and the console,
    # "/opsdesk " in Slack (one slash command with the command as its first word).
    command_prefix: str = "/"

    def typed(self, line: str) -> str:
        """A command line as this caller types it: '/review <repo>' in Telegram is
        '/opsdesk review <repo>' in Slack."""
        return self.command_prefix + line.removeprefix("/")

    @property
    def principal(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def shown_name(self) -> str:
        """Who they are to people: their display name, else their platform id."""
        return self.name or self.principal

    @property
    def chat(self) -> str | None:
        return None if self.chat_id is None else f"{self.platform}:{self.chat_id}"


CONSOLE_CALLER = Caller(platform="console", user_id="local", name="console")


def role_of(caller: Caller, access: AccessConfig) -> Role:
    if caller.platform == "console":
        return Role.ADMIN
    if caller.principal in access.admins:
        return Role.ADMIN
    if caller.principal in access.viewers:
        return Role.VIEWER
    if caller.chat is not None and caller.chat in access.chats:
        return Role.VIEWER
    return Role.NONE


def refusal_text(caller: Caller, needed: Role) -> str:
    if needed is Role.ADMIN:
        return "This command is for opsdesk admins. Ask an admin to add you to access.admins."
    return (
        f"You are not on this opsdesk's access list ({caller.principal}). "
        "Ask an admin to add you to access.viewers or this chat to access.chats."
    )
