"""Sending a Reply to a Telegram chat: the outbox's Deliverer for `telegram:<chat id>`,
and the one send path interactive replies use too."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import warnings
from collections.abc import Sequence

from sqlalchemy.engine import Engine
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError
from telegram.error import RetryAfter as TelegramRetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.telegram.render import Chunk, caption, render
from jobs.core.reply import Button, Image, Reply
from jobs.outbox.answers import PermanentFailure, RetryAfter, Unavailable
from jobs.outbox.delivery import EDIT_KIND, Post
from jobs.review.feedback import Placement, finding_id_of, record_message

log = logging.getLogger(__name__)


def markup(
    rows: Sequence[Sequence[Button]] | Sequence[Sequence[tuple[str, str]]],
) -> InlineKeyboardMarkup | None:
    """Inline keyboard rows; Button payloads were checked against 64 bytes when made."""
    keyboard = [
        [
            InlineKeyboardButton(b.label, callback_data=b.payload)
            if isinstance(b, Button)
            else InlineKeyboardButton(b[0], callback_data=b[1])
            for b in row
        ]
        for row in rows
        if row
    ]
    return InlineKeyboardMarkup(keyboard) if keyboard else None


def chat_id_of(target_id: str) -> int | str:
    """`-100123` → -100123; `@channel` stays a string."""
    try:
        return int(target_id)
    except ValueError:
        return target_id


def thread_message_id(message_ref: str | None) -> int | None:
    """The message id in a post's `chat:message` reference (what deliver returns)."""
    if message_ref is None:
        return None
    message_id = message_ref.rpartition(":")[2]
    return int(message_id) if message_id.isdigit() else None


async def send_reply(
    bot: Bot,
    chat_id: int | str,
    reply: Reply,
    *,
    skip: int = 0,
    reply_to: int | None = None,
    progress: dict[int, int] | None = None,
    progress_key: int = 0,
    engine: Engine | None = None,
) -> Message | None:
    """Send the reply's parts in order (photo first, then text chunks); returns the last
    message sent. Parts before `skip` were sent by an earlier attempt and are not sent
    again; `progress[progress_key]` is kept at the count of parts sent. With `engine`,
    each message's findings are recorded with the message id Telegram returned, so a
    press edits exactly that message and paragraph."""
    last: Message | None = None
    parts: list[Chunk | Image] = [reply.image] if reply.image is not None else []
    parts += render(reply)
    for index, chunk in enumerate(parts):
        if index < skip:
            continue
        if isinstance(chunk, Image):
            last = await bot.send_photo(
                chat_id,
                photo=InputFile(chunk.png, filename=chunk.filename),
                caption=caption(chunk),
                parse_mode=ParseMode.HTML,
            )
        else:
            last = await bot.send_message(
                chat_id,
                chunk.html,
                parse_mode=ParseMode.HTML,
                reply_markup=markup(chunk.keyboard),
                reply_to_message_id=reply_to if index == 0 else None,
                allow_sending_without_reply=True if reply_to else None,
            )
            if engine is not None:
                await remember_message(engine, last, chunk)
        if progress is not None:
            progress[progress_key] = index + 1
    return last


async def remember_message(engine: Engine, message: Message, chunk: Chunk) -> None:
    """Record which findings this message shows, in which paragraph, under which #n."""
    placements = [
        Placement(finding_id, placed.paragraph, placed.number)
        for placed in chunk.placed
        if (finding_id := finding_id_of(placed.key)) is not None
    ]
    if placements:
        chat = f"telegram:{message.chat_id}"
        await asyncio.to_thread(record_message, engine, chat, str(message.message_id), placements)


def wait_of(error: TelegramRetryAfter) -> float:
    """RetryAfter's wait in seconds (an int in v22 unless PTB_TIMEDELTA, then a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class TelegramDeliverer:
    """Delivers outbox posts whose target is `telegram:<chat id>`.

    A post of several parts (a chart, then text chunks) that fails half-way resumes
    at the part that failed, so a retry does not repeat what the chat already has."""

    def __init__(self, bot: Bot, engine: Engine | None = None) -> None:
        self.bot = bot
        self.engine = engine
        self._sent_parts: dict[int, int] = {}

    async def deliver(self, post: Post) -> str | None:
        chat_id = chat_id_of(post.target_id)
        try:
            if post.kind == EDIT_KIND:
                await self._redraw(chat_id, post)
                return post.thread_ref
            message = await send_reply(
                self.bot,
                chat_id,
                post.reply,
                skip=self._sent_parts.get(post.id, 0),
                reply_to=thread_message_id(post.thread_ref),
                progress=self._sent_parts,
                progress_key=post.id,
                engine=self.engine,
            )
        except TelegramRetryAfter as exc:
            raise RetryAfter(wait_of(exc), "Telegram flood control") from exc
        except (Forbidden, InvalidToken, BadRequest) as exc:
            # Chat not found, bot kicked, a request Telegram cannot parse: the same
            # request would get the same answer, so it is not retried.
            raise PermanentFailure(f"Telegram refused the post: {exc.message}") from exc
        except NetworkError as exc:
            # A 5xx, no connection or a timeout (kept as the cause: an uncertain send).
            raise Unavailable(f"Telegram unavailable: {exc.message}") from exc
        self._sent_parts.pop(post.id, None)
        return None if message is None else f"{message.chat_id}:{message.message_id}"

    async def _redraw(self, chat_id: int | str, post: Post) -> None:
        """The message the post names, redrawn with the post's first part (if it was
        ever sent); a redraw that changes nothing is done."""
        message_id = thread_message_id(post.thread_ref)
        if message_id is None:
            return
        first = render(post.reply)[0]
        try:
            await self.bot.edit_message_text(
                first.html,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup(first.keyboard),
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise
