"""Feedback end to end on Telegram: the real Application against the Bot API stand-in,
a real git repository reviewed by ruff, message ids as the stand-in returned them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.telegram import TelegramAdapter
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from tests.standins.telegram_api import TelegramApi, callback_update, command_update
from tests.support.context import jobs_context
from tests.support.feedback import TWO_UNUSED, feedback_rows
from tests.support.git_repo import Repo

CHAT = 42
OTHER_CHAT = -100777


def router_for(engine: Engine, git_repo: Repo, tmp_path: Path) -> Router:
    config = Config.model_validate(
        {
            "repos": [{"name": "demo", "path": str(git_repo.path)}],
            "reviewer": {"lint": {"select": ["F"]}, "max_findings_shown": 25},
            "access": {"chats": [f"telegram:{CHAT}", f"telegram:{OTHER_CHAT}"]},
            "telegram": {"enabled": True},
        }
    )
    return build_router(jobs_context(engine, config, tmp_path / "data"))


@asynccontextmanager
async def running(telegram_api: TelegramApi, router: Router) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(
        router, router.context.engine, telegram_api.token, router.context.config.telegram,
        api_base_url=telegram_api.base_url, poll_timeout=1,
    )  # fmt: skip
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


def chat_messages(telegram_api: TelegramApi, chat: int) -> list[dict[str, Any]]:
    return [m for (c, _), m in sorted(telegram_api.messages.items()) if c == chat]


async def command(telegram_api: TelegramApi, text: str, chat: int = CHAT) -> list[dict[str, Any]]:
    """Send a command; the messages it produced, once they stop arriving."""
    before = len(telegram_api.called("sendMessage"))
    telegram_api.push(command_update(text, chat_id=chat))
    await telegram_api.wait_for(
        lambda: len(telegram_api.called("sendMessage")) > before, timeout=30
    )
    count = -1
    while count != len(telegram_api.called("sendMessage")):  # until a quiet 0.3 s
        count = len(telegram_api.called("sendMessage"))
        await asyncio.sleep(0.3)
    sent = telegram_api.called("sendMessage")[before:]
    ids = {int(c.params["chat_id"]) for c in sent}
    assert ids == {chat}
    return chat_messages(telegram_api, chat)[-len(sent) :]


def rows(message: dict[str, Any]) -> list[list[dict[str, str]]]:
    return list(message.get("reply_markup", {}).get("inline_keyboard", []))


def button(message: dict[str, Any], number: int, label: str) -> str:
    for row in rows(message):
        for b in row:
            if b["text"].endswith(f"#{number} {label}") or b["text"] == f"#{number} {label}":
                return str(b["callback_data"])
    raise AssertionError(f"no #{number} {label} in {rows(message)}")


async def press(telegram_api: TelegramApi, message: dict[str, Any], data: str, query: str) -> None:
    current = telegram_api.messages[(message["chat"]["id"], message["message_id"])]
    answered = len(telegram_api.called("answerCallbackQuery"))
    telegram_api.push(callback_update(current, data, query, user_id=42))
    await telegram_api.wait_for(
        lambda: len(telegram_api.called("answerCallbackQuery")) > answered, timeout=30
    )


@pytest.fixture
async def two_unused_review(
    telegram_api: TelegramApi, sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> AsyncIterator[dict[str, Any]]:
    """The adapter running over a commit with two unused imports; `/review demo`'s one
    message in CHAT."""
    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    async with running(telegram_api, router_for(sqlite_engine, git_repo, tmp_path)):
        [review] = await command(telegram_api, "/review demo")
        yield review


def numbered_paragraphs(message: dict[str, Any]) -> dict[int, str]:
    found = {}
    for paragraph in message["text"].split("\n\n"):
        match = re.match(r"#(\d+) ", paragraph)
        if match:
            found[int(match.group(1))] = paragraph
    return found


async def test_25_findings_each_with_its_buttons_and_each_press_edits_its_own_paragraph(
    telegram_api: TelegramApi, sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("25 unused imports", **{f"m{n:02d}.py": "import os\n" for n in range(25)})
    async with running(telegram_api, router_for(sqlite_engine, git_repo, tmp_path)):
        messages = await command(telegram_api, "/review demo")
        assert len(messages) > 1  # too long for one message
        where: dict[int, dict[str, Any]] = {}
        for message in messages:
            paragraphs = numbered_paragraphs(message)
            payloads = {b["callback_data"] for row in rows(message) for b in row}
            for number, text in paragraphs.items():
                # Every finding's four buttons are in the message that shows it.
                assert {button(message, number, v) for v in ("Helpful", "Resolved")} <= payloads
                assert "imported but unused" in text
                where[number] = message
            labels = {b["text"].split()[0] for row in rows(message) for b in row}
            assert labels == {f"#{n}" for n in paragraphs}  # no row for another message
        assert sorted(where) == list(range(1, 26))
        for number in range(1, 26):
            message = where[number]
            before = numbered_paragraphs(telegram_api.messages[(CHAT, message["message_id"])])
            edits = len(telegram_api.called("editMessageText"))
            await press(telegram_api, message, button(message, number, "Helpful"), f"q{number}")
            await telegram_api.wait_for(
                lambda n=edits: len(telegram_api.called("editMessageText")) > n, timeout=30
            )
            edit = telegram_api.called("editMessageText")[-1]
            assert int(edit.params["message_id"]) == message["message_id"]
            after = numbered_paragraphs(telegram_api.messages[(CHAT, message["message_id"])])
            assert after[number] == before[number] + "\n✓ Helpful — marked by alice"
            assert {n: t for n, t in after.items() if n != number} == {
                n: t for n, t in before.items() if n != number
            }
        assert len(feedback_rows(sqlite_engine)) == 25
        assert not telegram_api.called("sendMessage")[len(messages) :]  # edits only, no new message


async def test_false_positive_then_cached_and_full_reviews_then_undo(
    telegram_api: TelegramApi, sqlite_engine: Engine, two_unused_review: dict[str, Any]
) -> None:
    review = two_unused_review
    assert "suppressed 0" in review["text"]
    await press(telegram_api, review, button(review, 1, "False positive"), "q-fp")
    await telegram_api.wait_for(lambda: telegram_api.called("editMessageText"))
    marked = telegram_api.messages[(CHAT, review["message_id"])]["text"]
    assert "✓ False positive — marked by alice" in marked
    [cached] = await command(telegram_api, "/review demo")
    assert "(cached)" in cached["text"] and "suppressed 1" in cached["text"]
    assert "`os` imported" not in cached["text"] and "`sys` imported" in cached["text"]
    [full] = await command(telegram_api, "/review demo full")
    assert "suppressed 1" in full["text"] and "`os` imported" not in full["text"]

    # Another chat never saw it: its press is refused and records nothing more.
    before = feedback_rows(sqlite_engine)
    elsewhere = {**review, "chat": {"id": OTHER_CHAT, "type": "group"}}
    forged = button(review, 2, "False positive")
    answered = len(telegram_api.called("answerCallbackQuery"))
    telegram_api.push(callback_update(elsewhere, forged, "q-forged", user_id=43))
    await telegram_api.wait_for(lambda: len(telegram_api.called("answerCallbackQuery")) > answered)
    alert = telegram_api.called("answerCallbackQuery")[-1].params
    assert alert["show_alert"] == "true" and "nothing was recorded" in alert["text"]
    assert "imported" not in alert["text"]
    assert feedback_rows(sqlite_engine) == before

    [listing] = await command(telegram_api, "/findings demo suppressed")
    assert "`os` imported" in listing["text"] and "marked by alice" in listing["text"]
    undo = rows(listing)[0][0]
    assert undo["text"] == "Undo false positive"
    edits = len(telegram_api.called("editMessageText"))
    await press(telegram_api, listing, undo["callback_data"], "q-undo")
    await telegram_api.wait_for(lambda: len(telegram_api.called("editMessageText")) > edits)
    [back] = await command(telegram_api, "/review demo")
    assert "`os` imported" in back["text"] and "suppressed 0" in back["text"]


async def test_two_quick_presses_on_one_message_both_show(
    telegram_api: TelegramApi, two_unused_review: dict[str, Any]
) -> None:
    review = two_unused_review
    # Both callbacks carry the message as it was before either press.
    telegram_api.push(callback_update(review, button(review, 1, "Helpful"), "q-a", user_id=42))
    telegram_api.push(callback_update(review, button(review, 2, "Resolved"), "q-b", user_id=42))
    await telegram_api.wait_for(
        lambda: len(telegram_api.called("editMessageText")) == 2, timeout=30
    )
    paragraphs = numbered_paragraphs(telegram_api.messages[(CHAT, review["message_id"])])
    assert paragraphs[1].endswith("✓ Helpful — marked by alice")
    assert paragraphs[2].endswith("✓ Resolved — marked by alice")


async def test_a_scheduled_review_post_is_pressable_and_edited_in_place(
    telegram_api: TelegramApi, sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    from jobs.outbox.delivery import OutboxSender
    from jobs.running.runner import run_job
    from jobs.runs.specs import find_job

    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    router = router_for(sqlite_engine, git_repo, tmp_path)
    config = router.context.config
    scheduled = config.repos[0].model_copy(
        update={"schedule": "0 2 * * *", "post_to": [f"telegram:{CHAT}"]}
    )
    router.context.config = config.model_copy(update={"repos": [scheduled]})
    spec = find_job(router.context.config, "review:demo")
    assert spec is not None
    async with running(telegram_api, router) as adapter:
        await asyncio.to_thread(run_job, router.context, spec, "schedule")
        sender = OutboxSender(sqlite_engine, {"telegram": adapter.deliverer})
        assert await sender.send_due() == 1
        [post] = chat_messages(telegram_api, CHAT)
        await press(telegram_api, post, button(post, 2, "False positive"), "q-post")
        await telegram_api.wait_for(lambda: telegram_api.called("editMessageText"), timeout=30)
        edited = numbered_paragraphs(telegram_api.messages[(CHAT, post["message_id"])])
        assert edited[2].endswith("✓ False positive — marked by alice")
        assert not edited[1].endswith("alice")
