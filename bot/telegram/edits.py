"""A press's answer shown in the message it was on: that finding's paragraph and its
keyboard row redrawn in place, or a new message when that cannot be done.

The finding's paragraph is the one recorded when the message was sent (its id as
Telegram returned it), never found by comparing text. Presses on one message take
turns, each from the last edit made here (bot/message_turns.py)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from telegram import Bot, CallbackQuery, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.chat_pipeline import ChatPipeline
from bot.message_turns import MessageTurns
from bot.telegram.deliver import markup, send_reply
from bot.telegram.redraw import Edit, edit_after_press
from bot.telegram.render import Placed
from bot.telegram.updates import PLATFORM
from jobs.core.reply import Reply
from jobs.review.feedback import finding_id_of, placement

MessageKey = tuple[int, int]  # (chat id, message id)


class PressedMessages:
    """Edits the messages buttons were pressed on."""

    def __init__(self, pipeline: ChatPipeline, engine: Engine) -> None:
        self.pipeline = pipeline
        self.engine = engine
        self.turns: MessageTurns[MessageKey, Edit] = MessageTurns()

    async def show(self, bot: Bot, query: CallbackQuery, reply: Reply) -> None:
        """Edit the pressed message in place; a new message when that cannot be done."""
        message = query.message
        if not isinstance(message, Message):
            return  # too old to be edited or read: the answer toast has said it
        key = (message.chat_id, message.message_id)
        async with self.turns.turn(key):
            edit = None
            placed = await self._placed(message, reply)
            current = self.turns.latest(key) or as_pressed(message)
            if current is not None and placed is not None:
                edit = edit_after_press(
                    current.text, current.html, current.keyboard, query.data or "", reply, placed
                )
            if edit is None:
                await send_reply(bot, message.chat_id, reply, engine=self.engine)
                return
            try:
                await query.edit_message_text(
                    edit.html, parse_mode=ParseMode.HTML, reply_markup=markup(edit.keyboard)
                )
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    raise
            self.turns.updated(key, edit)

    async def _placed(self, message: Message, reply: Reply) -> Placed | None:
        """Where the answer's finding sits in `message`, as recorded when it was sent."""
        keys = [b.key for b in reply.blocks if b.key and finding_id_of(b.key) is not None]
        if not keys:
            return None
        finding_id = finding_id_of(keys[0])
        assert finding_id is not None
        chat = f"{PLATFORM}:{message.chat_id}"
        found = await self.pipeline.read(
            placement, self.engine, chat, str(message.message_id), finding_id
        )
        return None if found is None else Placed(keys[0], found.paragraph, found.number)


def as_pressed(message: Message) -> Edit | None:
    """The message as the press carried it: its HTML, its keyboard, its text."""
    if not message.text:
        return None
    keyboard = message.reply_markup.inline_keyboard if message.reply_markup else ()
    rows = [[(b.text, str(b.callback_data)) for b in row] for row in keyboard]
    return Edit(message.text_html, rows, message.text)
