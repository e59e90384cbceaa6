"""The command menus Telegram shows: per scope, only the commands its people may use."""

from __future__ import annotations

import re

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeChat,
    BotCommandScopeChatMember,
    BotCommandScopeDefault,
)

from bot.telegram.render import short
from bot.telegram.updates import PLATFORM
from handlers.access import Role
from handlers.router import Router

# Bot API command names: 1-32 of lowercase letters, digits and underscores.
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_MENU_COMMANDS = 100


def menu_commands(router: Router, role: Role = Role.ADMIN) -> list[BotCommand]:
    """The command menu for `role`: the handler commands it may use, with names
    Telegram accepts."""
    commands = [
        BotCommand(command.name, short(command.summary or command.usage, 256) or command.name)
        for command in sorted(router.commands.values(), key=lambda c: c.name)
        if COMMAND_NAME.match(command.name) and role >= command.role
    ]
    return commands[:MAX_MENU_COMMANDS]


def menu_scopes(router: Router) -> list[tuple[BotCommandScope, list[BotCommand]]]:
    """Which menu each scope shows. Strangers (the default scope) see none; chats in
    access.chats and listed viewers see the viewer commands; admins see theirs in
    their private chat with the bot and, as members, in every allowed chat."""
    access = router.context.config.access
    viewer, admin = menu_commands(router, Role.VIEWER), menu_commands(router, Role.ADMIN)
    chats = _telegram_ids(access.chats)
    admins = [a for a in _telegram_ids(access.admins) if isinstance(a, int)]
    scopes: list[tuple[BotCommandScope, list[BotCommand]]] = [(BotCommandScopeDefault(), [])]
    for chat in chats:
        scopes.append((BotCommandScopeChat(chat), viewer))
    for user in _telegram_ids(access.viewers):
        if user not in admins:
            scopes.append((BotCommandScopeChat(user), viewer))
    for user in admins:
        scopes.append((BotCommandScopeChat(user), admin))
        for chat in chats:
            scopes.append((BotCommandScopeChatMember(chat, user), admin))
    return scopes


def _telegram_ids(principals: list[str]) -> list[int | str]:
    """'telegram:-100123' → -100123; '@channel' stays a string; other platforms dropped."""
    found: list[int | str] = []
    for principal in principals:
        platform, _, ident = principal.partition(":")
        if platform != PLATFORM or not ident:
            continue
        try:
            found.append(int(ident))
        except ValueError:
            found.append(ident)
    return found
