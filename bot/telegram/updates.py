"""Telegram updates into the chat pipeline's `Arrival`: who, in which chat, what, and
the update's own id (what redelivery de-duplication keys on). Pure."""

from __future__ import annotations

from telegram import Update

from bot.chat_pipeline import Arrival
from handlers.access import Caller

PLATFORM = "telegram"


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


def command_arrival(update: Update, line: str) -> Arrival | None:
    """A command message (`line`: its text, or what /start stands for)."""
    caller = caller_of(update)
    if caller is None or update.effective_message is None:
        return None
    return Arrival(caller, line, key=f"update:{update.update_id}")


def press_arrival(update: Update) -> Arrival | None:
    """A callback query: its data, keyed by the query's id."""
    query, caller = update.callback_query, caller_of(update)
    if query is None or caller is None:
        return None
    return Arrival(caller, query.data or "", key=f"callback:{query.id}")
