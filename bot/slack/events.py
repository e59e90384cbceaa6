"""Slack payloads into the chat pipeline's `Arrival`: who asked, what, where, and
Slack's own id for the delivery (what redelivery de-duplication keys on). Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.chat_pipeline import Arrival
from bot.slack.commands import SlashCommand, command_line
from handlers.access import Caller

PLATFORM = "slack"
# `<@U123>` or `<@U123|name>`: how a mention of the bot appears in an event's text.
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def retried(headers: Mapping[str, Sequence[str] | str]) -> bool:
    """Slack's redelivery: x-slack-retry-num of 1 or more. bolt's Socket Mode adapter
    sends 0 with every first delivery, so the header alone says nothing."""
    value = headers.get("x-slack-retry-num") or ()
    first = value if isinstance(value, str) else next(iter(value), "")
    try:
        return int(first) >= 1
    except ValueError:
        return False


def mention_line(text: str) -> str:
    """'<@UBOT> review api' → '/review api'; an empty mention asks for help."""
    words = MENTION.sub(" ", text).strip().removeprefix("/")
    return "/" + (words or "help")


def command_arrival(
    body: dict[str, Any],
    headers: Mapping[str, Sequence[str] | str],
    command: SlashCommand,
    prefix: str,
) -> Arrival:
    """A slash command: `/opsdesk review api` (or an alias) as the router's line."""
    caller = Caller(
        PLATFORM,
        body["user_id"],
        body.get("channel_id"),
        body.get("user_name", ""),
        command_prefix=prefix,
    )
    trigger = body.get("trigger_id") or body.get("response_url") or ""
    return Arrival(
        caller,
        command_line(command, body.get("text", "")),
        key=f"command:{trigger}" if trigger else "",
        retry=retried(headers),
    )


def event_arrival(body: dict[str, Any], event: dict[str, Any], prefix: str) -> Arrival | None:
    """A mention of the bot or a direct message; None when it names no user or channel."""
    user, channel = event.get("user"), event.get("channel")
    if not user or not channel:
        return None
    return Arrival(
        Caller(PLATFORM, user, channel, "", command_prefix=prefix),
        mention_line(event.get("text") or ""),
        key=f"event:{body.get('event_id') or event.get('ts')}",
    )


def is_command_message(event: dict[str, Any]) -> bool:
    """A direct message to the bot is a command; channel chatter, edits and other
    bots' messages are not."""
    return (
        event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id")
    )


def press_arrival(body: dict[str, Any], prefix: str) -> Arrival:
    """A button press (block_actions): its payload, keyed by the action's own ids."""
    action = body["actions"][0]
    user = body["user"]
    caller = Caller(
        PLATFORM,
        user["id"],
        channel_of(body),
        user.get("username") or user.get("name", ""),
        command_prefix=prefix,
    )
    message_ts = (body.get("container") or {}).get("message_ts")
    key = f"action:{action.get('action_ts')}:{message_ts}:{user['id']}"
    return Arrival(caller, action.get("value", ""), key=key)


def channel_of(body: dict[str, Any]) -> str | None:
    container = body.get("container") or {}
    return (body.get("channel") or {}).get("id") or container.get("channel_id")
