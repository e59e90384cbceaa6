"""The Application's callbacks: commands and button presses in, through the chat
pipeline, the handlers' Replies out. Translation only; every callback query is
answered first."""

from __future__ import annotations

import logging
import time

from sqlalchemy.engine import Engine
from telegram import CallbackQuery, Update
from telegram.error import BadRequest, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.ack_stats import observe_ack
from bot.chat_pipeline import ChatPipeline, Waiting
from bot.telegram.deliver import send_reply, wait_of
from bot.telegram.edits import PressedMessages
from bot.telegram.menus import COMMAND_NAME
from bot.telegram.render import answer_text, short
from bot.telegram.updates import PLATFORM, command_arrival, press_arrival
from bot.work_queue import WorkQueue, queued_text
from handlers.router import Router
from jobs.core.reply import Reply
from jobs.core.text import closest

log = logging.getLogger(__name__)

WELCOME = "Hello, this is opsdesk: code reviews, scheduled jobs and their digest."


class TelegramListeners:
    """The Application's callbacks, bound to the one router and database."""

    def __init__(self, router: Router, engine: Engine, queue: WorkQueue | None = None) -> None:
        self.router = router
        self.engine = engine
        self.pipeline = ChatPipeline(router, PLATFORM, queue)
        self.pressed = PressedMessages(self.pipeline, engine)

    def install(self, app: Application) -> None:
        """Register a handler for /start and for every command the router knows."""
        # Edited messages are not commands again: only new messages count.
        new_message = filters.UpdateType.MESSAGE
        names = [name for name in self.router.commands if COMMAND_NAME.match(name)]
        # block=False: an update's handler runs as its own task, so updates waiting in
        # the slow lane never take up the Application's concurrent-update slots that
        # another chat's quick command needs.
        app.add_handler(CommandHandler("start", self.on_start, filters=new_message, block=False))
        app.add_handler(CommandHandler(names, self.on_command, filters=new_message, block=False))
        # In a private chat an unknown /command gets the router's "unknown command";
        # in groups it may be meant for another bot, so only a likely typo of ours is.
        app.add_handler(
            MessageHandler(
                filters.COMMAND & filters.ChatType.PRIVATE & new_message,
                self.on_command,
                block=False,
            )
        )
        app.add_handler(
            MessageHandler(
                filters.COMMAND & filters.ChatType.GROUPS & new_message,
                self.on_group_typo,
                block=False,
            )
        )
        app.add_handler(CallbackQueryHandler(self.on_press, block=False))
        app.add_error_handler(self.on_error)

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: a welcome and the commands this caller may use."""
        await self.answer(update, context, "/help", welcome=True)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command: run it through the chat pipeline and send its reply."""
        message = update.effective_message
        if message is not None and message.text:
            await self.answer(update, context, message.text)

    async def on_group_typo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An unknown /command in a group: answered ("did you mean /review?") when it is
        close to one of ours and addressed to no other bot; other bots' commands pass."""
        message = update.effective_message
        if message is None or not message.text:
            return
        name, _, addressee = message.text.split(maxsplit=1)[0].removeprefix("/").partition("@")
        if addressee and addressee.casefold() != (context.bot.username or "").casefold():
            return
        if closest(name, self.router.commands) is not None:
            await self.answer(update, context, message.text)

    async def answer(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, line: str, welcome: bool = False
    ) -> None:
        """The command's reply in its chat; a reply to it when it is for the asker alone."""
        message, arrival = update.effective_message, command_arrival(update, line)
        if message is None or arrival is None:
            return
        ticket = self.pipeline.take(arrival)

        async def say_waiting(waiting: Waiting) -> None:
            """A slow command shows it is being worked on, or how far back it waits."""
            if waiting == "queued" and ticket.ahead is not None:
                await send_reply(
                    context.bot, message.chat_id, Reply.text(queued_text(ticket.ahead))
                )
            else:
                await context.bot.send_chat_action(message.chat_id, "typing")

        reply = await self.pipeline.answer(ticket, while_waiting=say_waiting)
        if reply is None:
            return  # a redelivered update, or a stranger told within the hour
        if welcome and reply.status == "ok":
            reply = reply.model_copy(update={"title": WELCOME})
        reply_to = message.message_id if reply.private else None
        await send_reply(context.bot, message.chat_id, reply, reply_to=reply_to, engine=self.engine)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: record it through the pipeline, answer it, show the result."""
        arrived = time.monotonic()
        query = update.callback_query
        arrival = press_arrival(update)
        if query is None:
            return
        reply = await self.pipeline.press(arrival) if arrival is not None else None
        if reply is None:
            await answer_query(query)  # a duplicate: stop the spinner, change nothing
            return
        await answer_query(query, answer_text(reply), alert=reply.status != "ok")
        observe_ack(PLATFORM, time.monotonic() - arrived)
        if reply.status == "ok":
            await self.pressed.show(context.bot, query, reply)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log a failed update; the bot keeps serving."""
        error = context.error
        if isinstance(error, RetryAfter):
            # Flood control is expected and handled (the rate limiter and the outbox
            # wait it out): a warning, no traceback.
            log.warning("telegram: flood control, retry after %ss", wait_of(error))
            return
        log.error(
            "telegram update failed: %s: %s",
            type(error).__name__,
            error,
            exc_info=(type(error), error, error.__traceback__) if error else None,
        )


async def answer_query(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    """Answer a callback query; one that was answered already or expired is no error."""
    try:
        await query.answer(text=short(text) if text else None, show_alert=alert)
    except BadRequest as exc:
        log.info("callback query not answered: %s", exc.message)
