"""Answers going back to Slack after the acknowledgement: a command's through its
response URL, a mention's or a direct message's in the channel, a press's by redrawing
the message it was on. Each says it privately when it is personal (a refusal, a
mistyped command); a problem the channel asked about is answered in the channel."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.message_turns import MessageTurns
from bot.slack.render import fallback_text, render_message, replace_keyed
from bot.slack.uploads import slack_error, upload_chart
from jobs.core.reply import Reply

log = logging.getLogger(__name__)

Blocks = list[dict[str, Any]]
MessageKey = tuple[str, str]  # (channel, message ts)


def visible_to(reply: Reply) -> str:
    """Personal answers (a refusal, a mistyped command) go to the asker alone; a
    problem asked for in a channel (a failed run, something down) is the channel's."""
    return "ephemeral" if reply.private else "in_channel"


async def respond_with(
    respond: AsyncRespond, client: AsyncWebClient, channel: str | None, reply: Reply
) -> None:
    """A command's answer through its response URL, then its chart into the channel."""
    await respond(response_type=visible_to(reply), replace_original=False, **render_message(reply))
    if reply.image is not None and channel:
        await post_chart(client, respond, channel, reply)


async def post_chart(
    client: AsyncWebClient, respond: AsyncRespond, channel: str, reply: Reply
) -> None:
    """The chart after the text; when Slack refuses it, the asker hears why."""
    assert reply.image is not None
    try:
        await upload_chart(client, channel, reply.image)
    except SlackApiError as exc:
        error = slack_error(exc)
        log.warning("chart upload to %s failed: %s", channel, error)
        hint = (
            " Invite the bot to this channel to get charts here."
            if error in ("not_in_channel", "channel_not_found")
            else ""
        )
        await respond(
            response_type="ephemeral",
            replace_original=False,
            text=f"The chart could not be posted here ({error}).{hint}",
        )


async def post_in_channel(
    client: AsyncWebClient, channel: str, user: str, thread_ts: str | None, reply: Reply
) -> None:
    """A mention's or direct message's answer; an error or refusal to the asker alone."""
    message = render_message(reply)
    try:
        if visible_to(reply) == "ephemeral":
            await client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, **message
            )
            return
        await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, unfurl_links=False, **message
        )
        if reply.image is not None:
            await upload_chart(client, channel, reply.image, thread_ts)
    except SlackApiError as exc:
        log.warning("could not answer in %s: %s", channel, slack_error(exc))


async def tell_privately(
    client: AsyncWebClient,
    respond: AsyncRespond,
    channel: str | None,
    user_id: str,
    reply: Reply,
) -> None:
    """An ephemeral message to one user; the response URL when the bot cannot post."""
    message = render_message(reply)
    if channel:
        try:
            await client.chat_postEphemeral(channel=channel, user=user_id, **message)
            return
        except SlackApiError as exc:
            log.info("chat.postEphemeral failed (%s); using the response URL", slack_error(exc))
    await respond(response_type="ephemeral", replace_original=False, **message)


async def redraw_pressed(
    client: AsyncWebClient,
    respond: AsyncRespond,
    turns: MessageTurns[MessageKey, Blocks],
    body: dict[str, Any],
    channel: str,
    reply: Reply,
) -> bool:
    """Redraw the blocks of the pressed message that the reply is about, in place.
    False when there is nothing of the message to redraw (the caller tells privately)."""
    message = body.get("message")
    container = body.get("container") or {}
    if message is None or container.get("is_ephemeral"):
        return False
    action_ts = body["actions"][0].get("action_ts")
    key = (channel, str(message.get("ts")))
    async with turns.turn(key):
        current = turns.latest(key) or message.get("blocks") or []
        blocks = replace_keyed(current, reply, action_ts)
        if blocks is None:
            return False  # the reply is not about a block of this message
        text = message.get("text") or fallback_text(reply)
        try:
            await client.chat_update(channel=channel, ts=message["ts"], blocks=blocks, text=text)
        except SlackApiError as exc:
            # e.g. a message posted through a response URL where the bot is no member.
            log.warning(
                "chat.update failed (%s); redrawing through the response URL", slack_error(exc)
            )
            await respond(replace_original=True, blocks=blocks, text=text)
        turns.updated(key, blocks)
    return True
