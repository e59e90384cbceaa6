"""The bolt AsyncApp: Slack's slash commands, mentions, DMs and button presses in,
handler Replies out. Every listener acknowledges first and keeps no logic of its own:
the router decides, render.py draws.

Ack first, always: the acknowledgement touches no database, no thread and no handler
(Slack gives 3 s, and a full thread pool once made it miss them). Answers that need
no I/O (help, a typo, a refusal) ride in the ack itself; everything else goes to the
work queue and answers through the response URL, saying so when it has to wait.
Redeliveries are recognised in the worker, after the ack.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ack_stats import observe_ack
from bot.chat_work import INTERRUPTED, busy, command_once, press_once
from bot.slack.commands import MAIN_COMMAND, command_line, routes
from bot.slack.edits import MessageEdits
from bot.slack.render import fallback_text, render_message, replace_keyed
from bot.work_queue import Lane, QueueFull, WorkInterrupted, WorkQueue, queued_text
from handlers.access import Caller, Role
from handlers.refusals import RefusalLimiter
from handlers.router import Command, Router
from jobs.core.reply import Reply

log = logging.getLogger(__name__)

PLATFORM = "slack"
WORKING = "Working on it…"
# Work after an ack waits for a burst of acks to pass: this long without a new one,
ACK_QUIET_S = 0.01
# but never longer than this.
ACK_BURST_WAIT_S = 0.25
# `<@U123>` or `<@U123|name>`: how a mention of the bot appears in an event's text.
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def visible_to(reply: Reply) -> str:
    """Errors, refusals and private replies go to the asker alone."""
    return "ephemeral" if reply.private or reply.status != "ok" else "in_channel"


def mention_line(text: str) -> str:
    """'<@UBOT> review api' → '/review api'; an empty mention asks for help."""
    words = MENTION.sub(" ", text).strip().removeprefix("/")
    return "/" + (words or "help")


def build_app(
    router: Router,
    client: AsyncWebClient,
    *,
    signing_secret: str = "",
    main_command: str = MAIN_COMMAND,
    queue: WorkQueue | None = None,
) -> AsyncApp:
    """The app for both modes: HTTP verifies `signing_secret`; Socket Mode needs none."""
    # process_before_response: bolt answers the HTTP request (or socket envelope) as
    # soon as a listener returns, instead of polling every 10 ms for its ack; each
    # listener acks, hands the rest to a task and returns.
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        name="opsdesk",
        process_before_response=True,
    )
    slash_commands = routes(main_command)
    work = queue or WorkQueue(router.context.run_control)
    prefix = f"{main_command} "
    edits = MessageEdits()
    refusals = RefusalLimiter()

    background: set[asyncio.Task[None]] = set()
    last_ack = [0.0]  # time.monotonic() of the newest acknowledgement

    def acked() -> None:
        last_ack[0] = time.monotonic()

    async def when_acks_settle(work_to_do: Coroutine[Any, Any, None]) -> None:
        """Acks first: during a burst of commands, work after the ack waits until no
        new ack came for ACK_QUIET_S (at most ACK_BURST_WAIT_S), so it does not take
        the loop and the GIL from acks still to be made."""
        until = time.monotonic() + ACK_BURST_WAIT_S
        while time.monotonic() < until and time.monotonic() - last_ack[0] < ACK_QUIET_S:
            await asyncio.sleep(ACK_QUIET_S / 2)
        try:
            await work_to_do
        except Exception:
            log.exception("answering a Slack command or event failed after its ack")

    def after_ack(work_to_do: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(when_acks_settle(work_to_do))
        background.add(task)
        task.add_done_callback(background.discard)

    async def run_command(
        lane: Lane, key: str, caller: Caller, line: str, *, reserved: bool = False
    ) -> Reply | None:
        try:
            return await work.run(
                lane, command_once, router, PLATFORM, key, caller, line, reserved=reserved
            )
        except WorkInterrupted:
            return INTERRUPTED
        except QueueFull:
            return busy("commands")

    async def on_command(
        ack: AsyncAck,
        body: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
        request: AsyncBoltRequest,
    ) -> None:
        """Run `/opsdesk <command> …` (or an alias) through the router."""
        arrived = time.monotonic()
        channel = body.get("channel_id")
        caller = Caller(
            PLATFORM, body["user_id"], channel, body.get("user_name", ""), command_prefix=prefix
        )
        if router.role(caller) is Role.NONE:  # before any write: strangers cost nothing
            refusal = router.triage(caller, "/help")  # the router's refusal, no I/O
            if isinstance(refusal, Reply) and refusals.should_refuse(channel or caller.user_id):
                await ack(response_type="ephemeral", **render_message(refusal))
            else:
                await ack()
            return
        line = command_line(slash_commands[body["command"]], body.get("text", ""))
        triaged = router.triage(caller, line)
        lane: Lane = "slow" if isinstance(triaged, Command) and triaged.slow else "quick"
        at_once = triaged if isinstance(triaged, Reply) else None
        ahead: int | None = None
        if at_once is None:
            try:
                ahead = work.reserve(lane)  # a place in line, taken before the ack says it
            except QueueFull:
                at_once = busy("commands")
        if at_once is not None:
            await ack(response_type=visible_to(at_once), **render_message(at_once))
            observe_ack(PLATFORM, time.monotonic() - arrived)
            acked()
            return
        if request.headers.get("x-slack-retry-num"):
            await ack()  # Slack's retry: the first delivery says what needs saying
        elif ahead is not None:
            await ack(response_type="ephemeral", text=queued_text(ahead))
        elif lane == "slow":
            await ack(response_type="ephemeral", text=WORKING)
        else:
            await ack()
        observe_ack(PLATFORM, time.monotonic() - arrived)
        acked()
        trigger = body.get("trigger_id") or body.get("response_url") or ""
        key = f"command:{trigger}" if trigger else ""
        after_ack(answer_command(lane, key, caller, line, respond, client))

    async def answer_command(
        lane: Lane,
        key: str,
        caller: Caller,
        line: str,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        """After the ack: the work, then the answer through the response URL."""
        channel = caller.chat_id
        reply = await run_command(lane, key, caller, line, reserved=True)
        if reply is None:
            return  # a redelivery: the first delivery answers
        await respond(
            response_type=visible_to(reply), replace_original=False, **render_message(reply)
        )
        if reply.image is not None and channel:
            await post_chart(client, respond, channel, reply)

    for name in slash_commands:
        app.command(name)(on_command)

    async def on_mention(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """`@opsdesk review api` in a channel: answered in a thread under the mention."""
        after_ack(answer_event(body, event, client, thread=True))

    async def on_message(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """A direct message to the bot is a command: `review api` or `/review api`."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        after_ack(answer_event(body, event, client, thread=False))

    async def answer_event(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, *, thread: bool
    ) -> None:
        """After bolt acknowledged the event: the command, answered in the channel."""
        user, channel = event.get("user"), event.get("channel")
        if not user or not channel:
            return
        caller = Caller(PLATFORM, user, channel, "", command_prefix=prefix)
        if router.role(caller) is Role.NONE and not refusals.should_refuse(channel):
            return  # a stranger was told within the hour: no second refusal, no write
        line = mention_line(event.get("text") or "")
        triaged = router.triage(caller, line)
        reply: Reply | None
        if isinstance(triaged, Reply):
            reply = triaged
        else:
            key = f"event:{body.get('event_id') or event.get('ts')}"
            reply = await run_command("slow" if triaged.slow else "quick", key, caller, line)
        if reply is None:
            return
        thread_ts = event.get("thread_ts") or (event.get("ts") if thread else None)
        message = render_message(reply)
        try:
            if visible_to(reply) == "ephemeral":
                # A refusal or an error in a channel: to the asker alone, as for commands.
                await client.chat_postEphemeral(
                    channel=channel, user=user, thread_ts=thread_ts, **message
                )
                return
            await client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, unfurl_links=False, **message
            )
            if reply.image is not None:
                await client.files_upload_v2(
                    channel=channel,
                    thread_ts=thread_ts,
                    file=reply.image.png,
                    filename=reply.image.filename,
                    title=reply.image.title,
                )
        except SlackApiError as exc:
            log.warning("could not answer a %s in %s: %s", event.get("type"), channel, _error(exc))

    app.event("app_mention")(on_mention)
    app.event("message")(on_message)

    async def on_press(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """A button: record it through the router, then redraw the blocks it was on."""
        arrived = time.monotonic()
        await ack()
        observe_ack(PLATFORM, time.monotonic() - arrived)
        acked()
        after_ack(record_press(body, client, respond))

    async def record_press(
        body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        action = body["actions"][0]
        user = body["user"]
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        key = f"action:{action.get('action_ts')}:{container.get('message_ts')}:{user['id']}"
        caller = Caller(
            PLATFORM,
            user["id"],
            channel,
            user.get("username") or user.get("name", ""),
            command_prefix=prefix,
        )
        if router.role(caller) is Role.NONE:  # strangers cost nothing: no rows written
            if not refusals.should_refuse(channel or user["id"]):
                return
            pressed: Reply | None = await router.press_async(caller, action.get("value", ""))
        else:
            try:
                pressed = await work.run(
                    "quick", press_once, router, PLATFORM, key, caller, action.get("value", "")
                )
            except WorkInterrupted:
                pressed = INTERRUPTED
            except QueueFull:
                pressed = busy("button presses")
        if pressed is None:
            return  # a redelivery
        reply = pressed
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
            current = edits.latest(message_key, message.get("blocks") or [])
            blocks = replace_keyed(current, reply, action.get("action_ts"))
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


async def post_chart(
    client: AsyncWebClient, respond: AsyncRespond, channel: str, reply: Reply
) -> None:
    """A reply's chart, uploaded to the channel after its text (files_upload_v2);
    a response URL cannot carry files."""
    assert reply.image is not None
    try:
        await client.files_upload_v2(
            channel=channel,
            file=reply.image.png,
            filename=reply.image.filename,
            title=reply.image.title,
            alt_txt=reply.image.title[:1000],
        )
    except SlackApiError as exc:
        error = _error(exc)
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
