"""The Slack app manifest, made from the router and bot/slack/commands.py, so the
commands, the aliases, a renamed main command and the request URLs can never
drift from what opsdesk routes. `opsdesk slack manifest [--request-url URL]`
prints it; manifest.yml is its Socket Mode output (a test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from bot.slack.commands import MAIN_COMMAND, SLASH_COMMANDS
from handlers.router import Command

APP_NAME = "opsdesk"
# Mentions and direct messages are commands too (bot/slack/listeners.py answers them).
BOT_EVENTS = ["app_mention", "message.im"]
# channels:history / groups:history: reading a channel back after an uncertain send.
BOT_SCOPES = [
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "files:write",
    "groups:history",
    "im:history",
]
MAX_USAGE_HINT = 1000
# Long descriptions stay on one line rather than folded.
MAX_LINE = 10_000
HEADER = """\
# The Slack app manifest for opsdesk, printed by `opsdesk slack manifest` from the
# commands opsdesk routes (do not edit by hand: tests/bot/slack/test_manifest.py keeps
# this file equal to that output). Create the app at https://api.slack.com/apps →
# "Create New App" → "From a manifest" and paste it. This one is for Socket Mode (no
# public URL). For HTTP mode print one with your URL:
#   opsdesk slack manifest --request-url https://<your host>/slack/events
"""


def slack_manifest(
    commands: Mapping[str, Command],
    *,
    main_command: str = MAIN_COMMAND,
    request_url: str | None = None,
) -> dict[str, Any]:
    """The manifest as a dict: Socket Mode without `request_url`, HTTP mode with it
    (the URL then goes on every slash command, interactivity and events)."""
    slash_commands = []
    for declared in SLASH_COMMANDS:
        if declared.runs is None:
            name, description = main_command, declared.description
            names = ["help", *sorted(set(commands) - {"help"})]
            usage = " | ".join(names)[:MAX_USAGE_HINT]
        else:
            routed = commands[declared.runs]
            name, description = declared.name, declared.description
            usage = routed.usage.partition(" ")[2]
        entry: dict[str, Any] = {"command": name}
        if request_url:
            entry["url"] = request_url
        entry["description"] = description
        if usage:
            entry["usage_hint"] = usage
        entry["should_escape"] = False
        slash_commands.append(entry)
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    if request_url:
        interactivity["request_url"] = request_url
        events = {"request_url": request_url, **events}
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": APP_NAME,
            "description": "Cached code reviews, scheduled agent jobs and a daily digest, in chat.",
            "long_description": (
                "opsdesk is a self-hosted chat-ops bot. It reviews git repositories on a "
                "schedule, caching what did not change, runs batched agent jobs, records every "
                f"run and posts a daily optimisation digest. Use {main_command} help for the "
                "commands, or mention the bot or message it directly; feedback buttons on "
                "findings teach it which ones matter."
            ),
            "background_color": "#24292f",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": APP_NAME, "always_online": True},
            "slash_commands": slash_commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }


class _ManifestDumper(yaml.SafeDumper):
    """Lists indented under their key, as in Slack's own manifest examples."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def manifest_yaml(manifest: dict[str, Any]) -> str:
    """The manifest as YAML, keys in the order Slack's own examples use."""
    body = yaml.dump(
        manifest,
        Dumper=_ManifestDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=MAX_LINE,
    )
    return HEADER + body
