"""The bolt AsyncApp: Slack's slash commands and button presses in, handler Replies
out. Every listener acknowledges first (Slack gives 3 s) and keeps no logic of its
own: the router decides, render.py draws."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.commands import MAIN_COMMAND, command_line, routes
from bot.slack.edits import MessageEdits
from bot.slack.render import fallback_text, render_message, replace_keyed
from handlers.access import Caller, Role
from handlers.refusals import RefusalLimiter
from handlers.router import Router
from jobs.reply import Reply
from storage.inbound import first_delivery

log = logging.getLogger(__name__)

# A quick command answers in the ack itself; one still running after this long is
# acknowledged with WORKING and answers through the response URL when done.
ACK_BUDGET_S = 1.5
WORKING = "Working on it…"


def visible_to(reply: Reply) -> str:
    """Errors, refusals and private replies go to the asker alone."""
    return "ephemeral" if reply.private or reply.status != "ok" else "in_channel"


def build_app(
    router: Router,
    client: AsyncWebClient,
    *,
    signing_secret: str = "",
    main_command: str = MAIN_COMMAND,
) -> AsyncApp:
    """The app for both modes: HTTP verifies `signing_secret`; Socket Mode needs none."""
    app = AsyncApp(client=client, signing_secret=signing_secret, name="opsdesk")
    engine = router.services.engine
    slash_commands = routes(main_command)
    edits = MessageEdits()
    refusals = RefusalLimiter()

    async def first_time(key: str) -> bool:
        """False for a redelivery (Slack retries slow answers): ack it, do nothing."""
        return await asyncio.to_thread(first_delivery, engine, "slack", key)

    async def on_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Run `/opsdesk <command> …` (or an alias) through the router."""
        caller = Caller("slack", body["user_id"], body.get("channel_id"), body.get("user_name", ""))
        if router.role(caller) is Role.NONE:  # before any write: strangers cost nothing
            if refusals.should_refuse(caller.chat_id or caller.user_id):
                reply = await router.handle_async(caller, "/help")  # the router's refusal
                await ack(response_type="ephemeral", **render_message(reply))
            else:
                await ack()
            return
        trigger = body.get("trigger_id") or body.get("response_url") or ""
        if trigger and not await first_time(f"command:{trigger}"):
            await ack()
            return
        line = command_line(slash_commands[body["command"]], body.get("text", ""))
        command = router.command_for(line)
        work = asyncio.ensure_future(router.handle_async(caller, line))
        if command is None or not command.slow:
            await asyncio.wait({work}, timeout=ACK_BUDGET_S)
        if work.done():
            reply = work.result()
            await ack(response_type=visible_to(reply), **render_message(reply))
            return
        await ack(response_type="ephemeral", text=WORKING)
        reply = await work
        await respond(
            response_type=visible_to(reply), replace_original=False, **render_message(reply)
        )

    for name in slash_commands:
        app.command(name)(on_command)

    async def on_press(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """A button: record it through the router, then redraw the blocks it was on."""
        await ack()
        action = body["actions"][0]
        user = body["user"]
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        key = f"action:{action.get('action_ts')}:{container.get('message_ts')}:{user['id']}"
        caller = Caller("slack", user["id"], channel, user.get("username") or user.get("name", ""))
        stranger = router.role(caller) is Role.NONE
        if stranger and not refusals.should_refuse(channel or user["id"]):
            return
        if not stranger and not await first_time(key):
            return
        reply = await router.press_async(caller, action.get("value", ""))
        if visible_to(reply) == "ephemeral":
            await tell_privately(client, respond, channel, user["id"], reply)
            return
        message = body.get("message")
        if message is None or container.get("is_ephemeral") or not channel:
            # Nothing of the message to redraw (an ephemeral, or no channel).
            await tell_privately(client, respond, channel, user["id"], reply)
            return
        message_key = (channel, str(message.get("ts")))
        async with edits.turn(message_key):
            pressed = edits.latest(message_key, message.get("blocks") or [])
            blocks = replace_keyed(pressed, reply, action.get("action_ts"))
            if blocks is None:
                # The reply is not about a block of this message (an unkeyed reply).
                await tell_privately(client, respond, channel, user["id"], reply)
                return
            text = message.get("text") or fallback_text(reply)
            try:
                await client.chat_update(
                    channel=channel, ts=message["ts"], blocks=blocks, text=text
                )
            except SlackApiError as exc:
                # e.g. a message posted through a response URL where the bot is no member.
                log.warning(
                    "chat.update failed (%s); redrawing through the response URL", _error(exc)
                )
                await respond(replace_original=True, blocks=blocks, text=text)
            edits.updated(message_key, blocks)

    # Every button opsdesk draws has its router payload `<prefix>:…` as action_id; the
    # router, not this pattern, decides which prefixes exist (actions added later work).
    app.action(re.compile(r"^[A-Za-z0-9_-]+:"))(on_press)
    return app


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
            log.info("chat.postEphemeral failed (%s); using the response URL", _error(exc))
    await respond(response_type="ephemeral", replace_original=False, **message)


def _error(exc: SlackApiError) -> str:
    response = exc.response
    return str(response.get("error") if isinstance(response.data, dict) else response.status_code)
