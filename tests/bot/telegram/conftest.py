"""The real python-telegram-bot Application, fed in process: updates, built as
Telegram sends them, go into the running Application's update queue (its
concurrency limit included), and what the bot calls goes to the Bot API stand-in on
127.0.0.1. Long polling end to end is exercised once, in test_polling.py."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from telegram import Update
from telegram.ext import Application

from bot.telegram.application import build_application
from bot.telegram.listeners import TelegramListeners
from handlers.catalog import ACTIONS, COMMANDS
from handlers.router import Command, Request, Router
from jobs.config.schema import AccessConfig, Config, RepoConfig, TelegramConfig
from jobs.core.reply import Block, Reply
from tests.standins.telegram_api import TelegramApi, parse_html
from tests.support.context import jobs_context

KNOWN_CHAT = 42
GROUP_CHAT = -100500
ADMIN = 7
VIEWER = 8
STRANGER_CHAT = 777


def long_reply(_request: Request) -> Reply:
    """A reply of about 10,000 characters."""
    lines = "\n".join(f"line {n:04d} " + "x" * 90 for n in range(100))
    return Reply(title="Long", blocks=[Block(text=lines)])


@pytest.fixture
def router(sqlite_engine: Engine, tmp_path: Path) -> Router:
    config = Config(
        access=AccessConfig(
            chats=[f"telegram:{KNOWN_CHAT}", f"telegram:{GROUP_CHAT}"],
            admins=[f"telegram:{ADMIN}"],
            viewers=[f"telegram:{VIEWER}"],
        ),
        telegram=TelegramConfig(enabled=True),
        repos=[RepoConfig(name="demo", path=str(tmp_path))],
    )
    commands = [*COMMANDS, Command("long", "/long", "a long reply", long_reply)]
    return Router(jobs_context(sqlite_engine, config), commands, ACTIONS)


@dataclass
class TelegramBot:
    """The running Application and a way to hand it updates."""

    app: Application
    api: TelegramApi
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def push(self, *updates: dict[str, Any]) -> list[dict[str, Any]]:
        """Queue the updates as the poller would (each with a new update_id unless it
        has one); returns them as queued."""
        queued = []
        for update in updates:
            update = {"update_id": next(self._ids), **update}
            await self.app.update_queue.put(Update.de_json(update, self.app.bot))
            queued.append(update)
        return queued

    async def settled(self) -> None:
        """Every update queued so far has been handled, handlers' tasks included: the
        queue is drained while the Application runs (so it tracks the handlers' tasks),
        then Application.stop waits for those tasks; it then starts again."""
        await self.app.update_queue.join()
        await self.app.stop()
        await self.app.start()

    async def send(self, *updates: dict[str, Any]) -> list[dict[str, Any]]:
        """Queue the updates and wait until they are handled."""
        queued = await self.push(*updates)
        await self.settled()
        return queued

    def texts(self, chat_id: int) -> list[str]:
        """The plain text of every message sent to the chat, in order."""
        return [
            parse_html(c.params["text"])[0]
            for c in self.api.called("sendMessage")
            if int(c.params["chat_id"]) == chat_id
        ]


async def running_bot(
    api: TelegramApi, router: Router, engine: Engine, *, max_retries: int = 2
) -> TelegramBot:
    """The Application as the adapter builds it, running without a poller."""
    app = build_application(api.token, api.base_url, max_retries=max_retries)
    TelegramListeners(router, engine).install(app)
    await app.initialize()
    await app.start()
    return TelegramBot(app, api)


@pytest.fixture
async def telegram(telegram_api: TelegramApi, router: Router) -> AsyncIterator[TelegramBot]:
    bot = await running_bot(telegram_api, router, router.context.engine)
    yield bot
    await bot.app.stop()
    await bot.app.shutdown()
