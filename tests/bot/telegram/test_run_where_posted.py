"""/run asked in the group a job posts to is one message there, a failure included;
asked in another chat, the asker is answered and the group gets the job's post.
Through the running Application, the outbox and the Bot API stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.telegram.deliver import TelegramDeliverer
from handlers.catalog import ACTIONS, COMMANDS
from handlers.router import Router
from jobs.config.schema import Config
from jobs.outbox.delivery import OutboxSender
from tests.bot.telegram.conftest import ADMIN, GROUP_CHAT, KNOWN_CHAT, TelegramBot
from tests.standins.telegram_api import command_update
from tests.support.context import jobs_context


@pytest.fixture
def router(sqlite_engine: Engine, tmp_path: Path) -> Router:
    """An admin; `flaky` fails and posts to the group, as batch `nightly` does."""
    group = f"telegram:{GROUP_CHAT}"
    config = Config.model_validate(
        {
            "telegram": {"enabled": True},
            "access": {"admins": [f"telegram:{ADMIN}"], "chats": [group]},
            "jobs": [
                {"name": "flaky", "command": "echo broken >&2; exit 3", "post_to": [group]},
                {"name": "hello", "command": "echo hello", "batch": "nightly"},
            ],
            "batches": [{"name": "nightly", "schedule": "0 2 * * *", "post_to": [group]}],
        }
    )
    return Router(jobs_context(sqlite_engine, config), COMMANDS, ACTIONS)


async def sent_out(bot: TelegramBot, engine: Engine) -> None:
    """The outbox sends what it holds, through the same Bot."""
    await OutboxSender(engine, {"telegram": TelegramDeliverer(bot.app.bot, engine)}).send_due()


@pytest.mark.parametrize(("name", "shown"), [("flaky", "flaky: failed"), ("nightly", "nightly")])
async def test_a_run_asked_where_the_job_posts_is_one_message_there(
    telegram: TelegramBot, router: Router, name: str, shown: str
) -> None:
    await telegram.send(command_update(f"/run {name}", chat_id=GROUP_CHAT, user_id=ADMIN))
    await sent_out(telegram, router.context.engine)
    [message] = telegram.texts(GROUP_CHAT)
    assert shown in message


async def test_a_run_asked_elsewhere_answers_there_and_posts_in_the_group(
    telegram: TelegramBot, router: Router
) -> None:
    await telegram.send(command_update("/run flaky", chat_id=KNOWN_CHAT, user_id=ADMIN))
    await sent_out(telegram, router.context.engine)
    [answer] = telegram.texts(KNOWN_CHAT)
    [post] = telegram.texts(GROUP_CHAT)
    assert "flaky: failed" in answer and "flaky: failed" in post
    assert "broken" in post
