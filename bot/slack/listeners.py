"""bolt's listeners: slash commands, mentions, direct messages and button presses.
Each acknowledges first, hands the rest to the chat pipeline after the ack and
renders what comes back; none decides anything itself.

Ack first, always: the acknowledgement touches no database, no thread and no handler.
Answers that need no I/O (help, a typo, a refusal) ride in the ack itself; the ack
of work that waits says so; the work answers through the response URL.
"""

from __future__ import annotations

import re
import time
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.ack_stats import observe_ack
from bot.chat_pipeline import ChatPipeline, Ticket
from bot.message_turns import MessageTurns
from bot.slack.after_ack import AfterAck
from bot.slack.answers import (
    Blocks,
    MessageKey,
    post_in_channel,
    redraw_pressed,
    respond_with,
    tell_privately,
    visible_to,
)
from bot.slack.commands import SlashCommand
from bot.slack.events import (
    PLATFORM,
    channel_of,
    command_arrival,
    event_arrival,
    is_command_message,
    press_arrival,
)
from bot.slack.render import render_message
from bot.work_queue import queued_text

WORKING = "Working on it…"
# Every button opsdesk draws has its router payload `<prefix>:…` as action_id; the
# router, not this pattern, decides which prefixes exist (actions added later work).
ACTION_ID = re.compile(r"^[A-Za-z0-9_-]+:")


def acknowledgement(ticket: Ticket) -> dict[str, Any]:
    """What the ack of a slash command carries: the answer when it is ready, else what
    the asker should know while they wait (nothing for a redelivery)."""
    if ticket.now is not None:
        return {"response_type": visible_to(ticket.now), **render_message(ticket.now)}
    if ticket.waiting == "queued":
        assert ticket.ahead is not None
        return {"response_type": "ephemeral", "text": queued_text(ticket.ahead)}
    if ticket.waiting == "working":
        return {"response_type": "ephemeral", "text": WORKING}
    return {}


class SlackListeners:
    def __init__(
        self,
        pipeline: ChatPipeline,
        slash_commands: dict[str, SlashCommand],
        prefix: str,
        after_ack: AfterAck,
    ) -> None:
        self.pipeline = pipeline
        self.slash_commands = slash_commands
        self.prefix = prefix  # how commands are typed here: "/opsdesk "
        self.after_ack = after_ack
        self.turns: MessageTurns[MessageKey, Blocks] = MessageTurns()

    def register(self, app: AsyncApp) -> None:
        for name in self.slash_commands:
            app.command(name)(self.on_command)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(ACTION_ID)(self.on_press)

    async def on_command(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        request: AsyncBoltRequest,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        """`/opsdesk <command> …` (or an alias): acknowledged at once, answered after."""
        arrived = time.monotonic()
        command = self.slash_commands[body["command"]]
        ticket = self.pipeline.take(command_arrival(body, request.headers, command, self.prefix))
        await ack(**acknowledgement(ticket))
        self._acked(arrived)
        if ticket.lane is not None:
            self.after_ack.later(self.answer_command(ticket, respond, client))

    async def answer_command(
        self, ticket: Ticket, respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """After the ack: the work, then the answer through the response URL."""
        reply = await self.pipeline.answer(ticket)
        if reply is not None:
            await respond_with(respond, client, ticket.arrival.caller.chat_id, reply)

    async def on_mention(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """`@opsdesk review api` in a channel: answered in a thread under the mention."""
        self.after_ack.later(self.answer_event(body, event, client, thread=True))

    async def on_message(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """A direct message to the bot is a command: `review api` or `/review api`."""
        if is_command_message(event):
            self.after_ack.later(self.answer_event(body, event, client, thread=False))

    async def answer_event(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, *, thread: bool
    ) -> None:
        """After bolt acknowledged the event: the command, answered in the channel."""
        arrival = event_arrival(body, event, self.prefix)
        if arrival is None:
            return
        reply = await self.pipeline.answer(self.pipeline.take(arrival))
        if reply is None:
            return
        caller = arrival.caller
        assert caller.chat_id is not None
        thread_ts = event.get("thread_ts") or (event.get("ts") if thread else None)
        await post_in_channel(client, caller.chat_id, caller.user_id, thread_ts, reply)

    async def on_press(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """A button: acknowledged at once; recorded after, and its message redrawn."""
        arrived = time.monotonic()
        await ack()
        self._acked(arrived)
        self.after_ack.later(self.record_press(body, client, respond))

    async def record_press(
        self, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """The press through the router; its answer redraws the message it was on, or
        is told to the presser alone."""
        arrival = press_arrival(body, self.prefix)
        reply = await self.pipeline.press(arrival)
        if reply is None:
            return  # a redelivery, or a stranger told within the hour
        channel, user = channel_of(body), arrival.caller.user_id
        if (
            reply.status == "ok"
            and visible_to(reply) == "in_channel"
            and channel is not None
            and await redraw_pressed(client, respond, self.turns, body, channel, reply)
        ):
            return
        await tell_privately(client, respond, channel, user, reply)

    def _acked(self, arrived: float) -> None:
        observe_ack(PLATFORM, time.monotonic() - arrived)
        self.after_ack.acked()
