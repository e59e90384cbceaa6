"""The python-telegram-bot Application: commands and button presses in, the handlers'
Replies out. Translation only — access, feedback and everything else live in handlers/."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.engine import Engine
from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeChat,
    BotCommandScopeChatMember,
    BotCommandScopeDefault,
    CallbackQuery,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.ack_stats import observe_ack
from bot.chat_work import INTERRUPTED, busy, command_once, press_once
from bot.telegram.deliver import markup, send_reply, wait_of
from bot.telegram.render import Edit, Placed, answer_text, edit_after_press, short
from bot.work_queue import Lane, QueueFull, WorkInterrupted, WorkQueue, queued_text
from handlers.access import Caller, Role, refusal_text
from handlers.refusals import RefusalLimiter
from handlers.router import Command, Router
from jobs.core.reply import Reply
from jobs.review.feedback import placement
from jobs.review.replies import finding_id_of
from storage.inbound import first_delivery

log = logging.getLogger(__name__)
T = TypeVar("T")

PLATFORM = "telegram"
DEFAULT_API_BASE_URL = "https://api.telegram.org"
# Bot API command names: 1-32 of lowercase letters, digits and underscores.
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
MAX_MENU_COMMANDS = 100
WELCOME = "Hello, this is opsdesk: code reviews, scheduled jobs and their digest."
# Messages whose latest edit this process remembers (for quick successive presses).
MAX_REMEMBERED_EDITS = 500
MessageKey = tuple[int, int]  # (chat id, message id)


class ExpectedFloodControl(logging.Filter):
    """AIORateLimiter logs a 429 it stops retrying as an ERROR with a traceback, yet
    the caller handles it (the outbox waits Retry-After and sends again): a warning,
    one line, is what it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Rate limit hit after maximum"):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


_flood_filter = ExpectedFloodControl()


def build_application(
    token: str,
    api_base_url: str = DEFAULT_API_BASE_URL,
    *,
    max_retries: int = 2,
) -> Application:
    """An Application on `api_base_url` (a self-hosted Bot API server works too), with
    Telegram's flood limits kept by AIORateLimiter; a RetryAfter is waited out in place
    up to `max_retries` times and then reaches the caller (the outbox retries it)."""
    api = api_base_url.rstrip("/")
    limiter_log = logging.getLogger("telegram.ext.AIORateLimiter")
    if _flood_filter not in limiter_log.filters:
        limiter_log.addFilter(_flood_filter)
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(AIORateLimiter(max_retries=max_retries))
        .concurrent_updates(16)  # a slow /review must not hold up a button press
        .build()
    )


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


def caller_of(update: Update) -> Caller | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None:
        return None
    return Caller(
        platform=PLATFORM,
        user_id=str(user.id),
        chat_id=None if chat is None else str(chat.id),
        name=user.username or user.first_name or "",
    )


class TelegramHandlers:
    """The Application's callbacks, bound to the one router and database."""

    def __init__(self, router: Router, engine: Engine, queue: WorkQueue | None = None) -> None:
        self.router = router
        self.engine = engine
        # Quick and slow commands in separate lanes: a slow /review in one chat never
        # delays a quick /health in another.
        self.queue = queue or WorkQueue(router.context.run_control)
        # A callback carries the message as it was when pressed: two quick presses on
        # one message would each edit that older copy and undo the other's change.
        # Edits of one message take turns, each from the last edit made here.
        self._edited: OrderedDict[MessageKey, Edit] = OrderedDict()
        self._edit_locks: dict[MessageKey, asyncio.Lock] = {}
        self.refusals = RefusalLimiter()

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
        # in groups it may be meant for another bot.
        app.add_handler(
            MessageHandler(
                filters.COMMAND & filters.ChatType.PRIVATE & new_message,
                self.on_command,
                block=False,
            )
        )
        app.add_handler(CallbackQueryHandler(self.on_press, block=False))
        app.add_error_handler(self.on_error)

    async def first(self, key: str) -> bool:
        """True the first time this inbound event is seen (redeliveries are ignored)."""
        return bool(await self._run("quick", _first_delivery, self.engine, key))

    async def _run(
        self,
        lane: Lane,
        fn: Callable[..., T],
        *args: object,
        on_wait: Callable[[int | None], Awaitable[object]] | None = None,
    ) -> T | Reply:
        """`fn(*args)` in a work-queue worker; a busy or stopping queue answers instead."""
        try:
            return await self.queue.run(lane, fn, *args, on_wait=on_wait)
        except WorkInterrupted:
            return INTERRUPTED
        except QueueFull:
            return busy("commands")

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: a welcome and the commands this caller may use."""
        await self._command(update, context, "/help", welcome=True)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command: run it through the router and send its reply."""
        message = update.effective_message
        if message is None or not message.text:
            return
        await self._command(update, context, message.text)

    async def _command(
        self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, welcome: bool = False
    ) -> None:
        message, caller = update.effective_message, caller_of(update)
        if message is None or caller is None:
            return
        if self.router.role(caller) is Role.NONE:
            await self._refuse_once(context, message, caller)
            return
        triaged = self.router.triage(caller, text)
        lane: Lane = "slow" if isinstance(triaged, Command) and triaged.slow else "quick"
        key = f"update:{update.update_id}"
        reply = triaged if isinstance(triaged, Reply) else None
        if reply is not None:
            if not await self._run("quick", _first_delivery, self.engine, key):
                return
        else:

            async def say_waiting(ahead: int | None) -> None:
                """A slow command shows it is being worked on, or how far back it waits."""
                if ahead is not None:
                    await send_reply(context.bot, message.chat_id, Reply.text(queued_text(ahead)))
                elif lane == "slow":
                    await context.bot.send_chat_action(message.chat_id, "typing")

            reply = await self._run(
                lane, command_once, self.router, PLATFORM, key, caller, text, on_wait=say_waiting
            )
        if reply is None:
            return  # a redelivered update
        if welcome:
            reply = reply.model_copy(update={"title": WELCOME})
        await send_reply(
            context.bot,
            message.chat_id,
            reply,
            reply_to=message.message_id if reply.private else None,
            engine=self.engine,
        )

    async def _refuse_once(
        self, context: ContextTypes.DEFAULT_TYPE, message: Message, caller: Caller
    ) -> None:
        """An unknown chat hears one polite refusal an hour at most; nothing is stored."""
        if not self.refusals.should_refuse(str(message.chat_id)):
            return
        text = (
            refusal_text(caller, Role.VIEWER)
            + f" This chat is {caller.chat}; this message is not repeated within the hour."
        )
        await send_reply(context.bot, message.chat_id, Reply.refused(text))

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: record it through the router, answer it, show the result."""
        arrived = time.monotonic()
        query, caller = update.callback_query, caller_of(update)
        if query is None:
            return
        if caller is None:
            await _answer(query)
            return
        if self.router.role(caller) is Role.NONE:
            # A stranger's press: answered, nothing written (the router refuses it).
            reply = await self.router.press_async(caller, query.data or "")
            await _answer(query, answer_text(reply), alert=True)
            return
        key, data = f"callback:{query.id}", query.data or ""
        pressed = await self._run("quick", press_once, self.router, PLATFORM, key, caller, data)
        if pressed is None:
            await _answer(query)  # a duplicate: stop the spinner, change nothing
            return
        reply = pressed
        await _answer(query, answer_text(reply), alert=reply.status != "ok")
        observe_ack(PLATFORM, time.monotonic() - arrived)
        if reply.status == "ok":
            await self._show(context, query, reply)

    async def _show(
        self, context: ContextTypes.DEFAULT_TYPE, query: CallbackQuery, reply: Reply
    ) -> None:
        """Edit the pressed message in place; a new message when that cannot be done.

        The finding's paragraph in that message is the one recorded when the message
        was sent (its id as Telegram returned it), never found by comparing text."""
        message = query.message
        if not isinstance(message, Message):
            return  # too old to be edited or read: the answer toast has said it
        key = (message.chat_id, message.message_id)
        async with self._edit_locks.setdefault(key, asyncio.Lock()):
            edit = None
            placed = await self._placed(message, reply)
            current = self._edited.get(key)
            if current is None and message.text:
                rows = [
                    [(b.text, str(b.callback_data)) for b in row]
                    for row in (
                        message.reply_markup.inline_keyboard if message.reply_markup else ()
                    )
                ]
                current = Edit(message.text_html, rows, message.text)
            if current is not None and placed is not None:
                edit = edit_after_press(
                    current.text, current.html, current.keyboard, query.data or "", reply, placed
                )
            if edit is None:
                await send_reply(context.bot, message.chat_id, reply, engine=self.engine)
                return
            try:
                await query.edit_message_text(
                    edit.html, parse_mode=ParseMode.HTML, reply_markup=markup(edit.keyboard)
                )
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    raise
            self._remember_edit(key, edit)

    def _remember_edit(self, key: MessageKey, edit: Edit) -> None:
        self._edited[key] = edit
        self._edited.move_to_end(key)
        while len(self._edited) > MAX_REMEMBERED_EDITS:
            self._edited.popitem(last=False)
        if len(self._edit_locks) > 2 * MAX_REMEMBERED_EDITS:
            for old in [k for k, lock in self._edit_locks.items() if not lock.locked()]:
                if old not in self._edited:
                    del self._edit_locks[old]

    async def _placed(self, message: Message, reply: Reply) -> Placed | None:
        """Where the answer's finding sits in `message`, as recorded when it was sent."""
        keys = [b.key for b in reply.blocks if finding_id_of(b.key) is not None]
        if not keys or keys[0] is None:
            return None
        finding_id = finding_id_of(keys[0])
        assert finding_id is not None
        chat = f"{PLATFORM}:{message.chat_id}"
        # In the quick lane, like every other database read on the chat path.
        found = await self._run(
            "quick", placement, self.engine, chat, str(message.message_id), finding_id
        )
        if found is None or isinstance(found, Reply):  # Reply: busy or stopping
            return None
        return Placed(keys[0], found.paragraph, found.number)

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


async def _answer(query: CallbackQuery, text: str | None = None, alert: bool = False) -> None:
    """Answer a callback query; one that was answered already or expired is no error."""
    try:
        await query.answer(text=short(text) if text else None, show_alert=alert)
    except BadRequest as exc:
        log.info("callback query not answered: %s", exc.message)


def _first_delivery(engine: Engine, key: str) -> bool:
    return first_delivery(engine, PLATFORM, key)
