"""Button presses, translated: every query answered, a vote recorded once, the pressed
message edited in place (that finding's paragraph and row, from where it was recorded
when sent). Which presses count is the router's: tests/handlers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.telegram.deliver import TelegramDeliverer, send_reply
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from jobs.core.reply import Block, Reply
from jobs.outbox.delivery import OutboxSender
from jobs.review.replies import finding_block
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from storage.models import Feedback, Finding, RuleMute
from tests.bot.telegram.conftest import KNOWN_CHAT, STRANGER_CHAT, TelegramBot, running_bot
from tests.standins.telegram_api import Call, TelegramApi, callback_update, command_update
from tests.support.context import jobs_context
from tests.support.feedback import TWO_UNUSED, feedback_rows
from tests.support.git_repo import Repo
from tests.support.rows import add_finding

OTHER_CHAT = -100777


def votes(engine: Engine) -> list[Feedback]:
    with Session(engine) as session:
        return list(session.exec(select(Feedback)).all())


async def posted_finding(
    telegram: TelegramBot, engine: Engine, finding_id: int | None = None
) -> tuple[Finding, dict[str, Any]]:
    """A review-like message with one finding's buttons, sent to KNOWN_CHAT as opsdesk
    sends replies (its message id recorded with the finding's place): the finding and
    Telegram's copy of the message."""
    row = add_finding(
        engine, id=finding_id, path="app/<main>.py",
        message="`os` imported but unused & <b>never</b> read",
    )  # fmt: skip
    reply = Reply(
        title="Review of demo",
        blocks=[Block(text="1 new finding"), finding_block(row, state="new")],
        note="reviewed by lint",
    )
    sent = await send_reply(telegram.app.bot, KNOWN_CHAT, reply, engine=engine)
    assert sent is not None
    return row, telegram.api.messages[(KNOWN_CHAT, sent.message_id)]


async def press(
    telegram: TelegramBot, message: dict[str, Any], data: str, query_id: str, user_id: int = 42
) -> Call:
    """Press a button on the message as it is now; Telegram's answer to the press."""
    current = telegram.api.messages.get((message["chat"]["id"], message["message_id"]), message)
    chat = message["chat"]
    await telegram.send(callback_update({**current, "chat": chat}, data, query_id, user_id))
    return telegram.api.called("answerCallbackQuery")[-1]


async def test_a_button_press_records_one_vote_and_edits_the_message(
    telegram: TelegramBot, sqlite_engine: Engine
) -> None:
    row, message = await posted_finding(telegram, sqlite_engine)
    answer = await press(telegram, message, f"fb:{row.id}:h", "q-1")
    assert answer.params["callback_query_id"] == "q-1"
    assert "Helpful" in answer.params["text"]
    [vote] = votes(sqlite_engine)
    assert (vote.finding_id, vote.user, vote.verdict) == (row.id, "telegram:42", "helpful")
    edited = telegram.api.messages[(KNOWN_CHAT, message["message_id"])]
    paragraphs = edited["text"].split("\n\n")
    assert paragraphs[0] == "Review of demo"
    assert paragraphs[1] == "1 new finding"
    assert "👍 Helpful — marked by alice" in paragraphs[2]
    assert "<main>" in paragraphs[2], "the finding's text is escaped, not dropped"
    assert paragraphs[3] == "reviewed by lint"
    [buttons] = edited["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in buttons] == [
        "Helpful",
        "Not helpful",
        "False positive",
        "Resolved",
    ]
    assert {b["callback_data"] for b in buttons} == {
        f"fb:{row.id}:{code}" for code in ("h", "n", "fp", "r")
    }


async def test_the_same_callback_delivered_twice_records_one_vote(
    telegram: TelegramBot, sqlite_engine: Engine
) -> None:
    row, message = await posted_finding(telegram, sqlite_engine)
    again = callback_update(message, f"fb:{row.id}:fp", "q-dup")
    await telegram.send(again, again)
    assert len(telegram.api.called("answerCallbackQuery")) == 2  # both spinners stopped
    assert len(votes(sqlite_engine)) == 1
    assert len(telegram.api.called("editMessageText")) == 1
    assert len(telegram.api.called("sendMessage")) == 1  # the posted finding only


@pytest.mark.parametrize("payload", ["fb:999999:fp", "zz:1", "fb:1:zz", "fb:x:h"])
async def test_a_forged_payload_is_refused_and_changes_nothing(
    telegram: TelegramBot, sqlite_engine: Engine, payload: str
) -> None:
    _row, message = await posted_finding(telegram, sqlite_engine, finding_id=1)
    answer = await press(telegram, message, payload, "q-forged")
    assert answer.params["show_alert"] == "true"
    assert answer.params["text"]
    assert not votes(sqlite_engine)
    assert not telegram.api.called("editMessageText")


async def test_a_press_by_someone_without_rights_is_refused(
    telegram: TelegramBot, sqlite_engine: Engine
) -> None:
    row, message = await posted_finding(telegram, sqlite_engine)
    elsewhere = {**message, "chat": {"id": STRANGER_CHAT, "type": "private"}}
    answer = await press(telegram, elsewhere, f"fb:{row.id}:h", "q-s", user_id=STRANGER_CHAT)
    assert answer.params["show_alert"] == "true"
    assert "not on this opsdesk's access list" in answer.params["text"]
    assert not votes(sqlite_engine)


# -- Over a real review: a git repository reviewed by ruff --------------------------------


def reviewing_router(engine: Engine, git_repo: Repo, tmp_path: Path) -> Router:
    config = Config.model_validate(
        {
            "repos": [{"name": "demo", "path": str(git_repo.path)}],
            "reviewer": {"lint": {"select": ["F"]}, "max_findings_shown": 25},
            "access": {"chats": [f"telegram:{KNOWN_CHAT}", f"telegram:{OTHER_CHAT}"]},
            "telegram": {"enabled": True},
        }
    )
    return build_router(jobs_context(engine, config, tmp_path / "data"))


@pytest.fixture
async def reviewing(
    telegram_api: TelegramApi, sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> AsyncIterator[TelegramBot]:
    """The Application over repository "demo" (commit it first)."""
    router = reviewing_router(sqlite_engine, git_repo, tmp_path)
    bot = await running_bot(telegram_api, router, sqlite_engine)
    yield bot
    await bot.app.stop()
    await bot.app.shutdown()


async def command(telegram: TelegramBot, text: str, chat: int = KNOWN_CHAT) -> list[dict[str, Any]]:
    """Send a command; the messages it produced."""
    before = len(telegram.api.called("sendMessage"))
    await telegram.send(command_update(text, chat_id=chat))
    sent = telegram.api.called("sendMessage")[before:]
    assert {int(c.params["chat_id"]) for c in sent} == {chat}
    return [m for (c, _), m in sorted(telegram.api.messages.items()) if c == chat][-len(sent) :]


def rows(message: dict[str, Any]) -> list[list[dict[str, str]]]:
    return list(message.get("reply_markup", {}).get("inline_keyboard", []))


def button(message: dict[str, Any], number: int, label: str) -> str:
    for row in rows(message):
        for b in row:
            if b["text"].endswith(f"#{number} {label}") or b["text"] == f"#{number} {label}":
                return str(b["callback_data"])
    raise AssertionError(f"no #{number} {label} in {rows(message)}")


async def opened(telegram: TelegramBot, message: dict[str, Any], number: int) -> dict[str, Any]:
    """Press finding #n's *Feedback* button: the message as it is then, its verdict
    buttons drawn in that button's place."""
    await press(telegram, message, button(message, number, "Feedback"), f"q-open-{number}")
    return telegram.api.messages[(message["chat"]["id"], message["message_id"])]


def numbered_paragraphs(message: dict[str, Any]) -> dict[int, str]:
    found = {}
    for paragraph in message["text"].split("\n\n"):
        match = re.match(r"#(\d+) ", paragraph)
        if match:
            found[int(match.group(1))] = paragraph
    return found


async def test_25_findings_each_with_its_buttons_and_each_press_edits_its_own_paragraph(
    reviewing: TelegramBot, sqlite_engine: Engine, git_repo: Repo
) -> None:
    git_repo.commit("25 unused imports", **{f"m{n:02d}.py": "import os\n" for n in range(25)})
    messages = await command(reviewing, "/review demo")
    where: dict[int, dict[str, Any]] = {}
    for message in messages:
        paragraphs = numbered_paragraphs(message)
        # One *Feedback* button a finding, in the message that shows it: 25, not 100.
        assert [[b["text"] for b in row] for row in rows(message)] == [
            [f"#{n} Feedback"] for n in paragraphs
        ]
        for number, text in paragraphs.items():
            assert "imported but unused" in text
            where[number] = message
    assert sorted(where) == list(range(1, 26))
    for number in range(1, 26):
        message = where[number]
        before = numbered_paragraphs(reviewing.api.messages[(KNOWN_CHAT, message["message_id"])])
        message = await opened(reviewing, message, number)
        await press(reviewing, message, button(message, number, "Helpful"), f"q{number}")
        edit = reviewing.api.called("editMessageText")[-1]
        assert int(edit.params["message_id"]) == message["message_id"]
        after = numbered_paragraphs(reviewing.api.messages[(KNOWN_CHAT, message["message_id"])])
        assert after[number] == before[number] + "\n👍 Helpful — marked by alice"
        assert {n: t for n, t in after.items() if n != number} == {
            n: t for n, t in before.items() if n != number
        }
    assert len(reviewing.api.called("editMessageText")) == 50  # each opened, then pressed
    assert len(feedback_rows(sqlite_engine)) == 25
    assert not reviewing.api.called("sendMessage")[len(messages) :]  # edits only


async def test_a_press_from_a_chat_never_shown_the_finding_is_an_alert_that_leaks_nothing(
    reviewing: TelegramBot, sqlite_engine: Engine, git_repo: Repo
) -> None:
    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    [review] = await command(reviewing, "/review demo")
    assert "0 marked false positive" in review["text"]  # the small print, as Telegram shows it
    elsewhere = {**review, "chat": {"id": OTHER_CHAT, "type": "group"}}
    await press(reviewing, elsewhere, button(review, 2, "Feedback"), "q-forged-open", 43)
    opening = reviewing.api.called("answerCallbackQuery")[-1].params
    assert opening["show_alert"] == "true" and "imported" not in opening["text"]
    forged = button(review, 2, "Feedback").replace(":v", ":fp")
    await press(reviewing, elsewhere, forged, "q-forged", 43)
    alert = reviewing.api.called("answerCallbackQuery")[-1].params
    assert alert["show_alert"] == "true" and "nothing was recorded" in alert["text"]
    assert "imported" not in alert["text"]
    assert feedback_rows(sqlite_engine) == []
    assert not reviewing.api.called("editMessageText")


async def test_an_undo_button_is_labelled_and_its_press_edits_the_listing(
    reviewing: TelegramBot, sqlite_engine: Engine, git_repo: Repo
) -> None:
    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    [review] = await command(reviewing, "/review demo")
    review = await opened(reviewing, review, 1)
    await press(reviewing, review, button(review, 1, "False positive"), "q-fp")
    marked = reviewing.api.messages[(KNOWN_CHAT, review["message_id"])]["text"]
    assert "false positive, marked by alice" in marked
    [listing] = await command(reviewing, "/findings demo suppressed")
    assert "app.py:1 F401" in listing["text"] and "marked by alice" in listing["text"]
    undo = rows(listing)[0][0]
    assert undo["text"] == "Undo false positive"
    answer = await press(reviewing, listing, undo["callback_data"], "q-undo")
    assert "undone by alice" in answer.params["text"]  # the toast says it
    edited = reviewing.api.messages[(KNOWN_CHAT, listing["message_id"])]["text"]
    assert "marked by alice" not in edited  # the finding's paragraph is redrawn
    assert feedback_rows(sqlite_engine) == []


async def test_two_quick_presses_on_one_message_both_show(
    reviewing: TelegramBot, git_repo: Repo
) -> None:
    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    [review] = await command(reviewing, "/review demo")
    review = await opened(reviewing, await opened(reviewing, review, 1), 2)
    # Both callbacks carry the message as it was before either press.
    await reviewing.send(
        callback_update(review, button(review, 1, "Helpful"), "q-a"),
        callback_update(review, button(review, 2, "Resolved"), "q-b"),
    )
    assert len(reviewing.api.called("editMessageText")) == 4  # two opened, two pressed
    paragraphs = numbered_paragraphs(reviewing.api.messages[(KNOWN_CHAT, review["message_id"])])
    assert paragraphs[1].endswith("👍 Helpful — marked by alice")
    assert paragraphs[2].endswith("✅ Resolved — marked by alice")


async def test_a_scheduled_review_post_is_pressable_and_edited_in_place(
    telegram_api: TelegramApi, sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    router = reviewing_router(sqlite_engine, git_repo, tmp_path)
    config = router.context.config
    scheduled = config.repos[0].model_copy(
        update={"schedule": "0 2 * * *", "post_to": [f"telegram:{KNOWN_CHAT}"]}
    )
    router.context.config = config.model_copy(update={"repos": [scheduled]})
    spec = find_job(router.context.config, "review:demo")
    assert spec is not None
    bot = await running_bot(telegram_api, router, sqlite_engine)
    try:
        await asyncio.to_thread(run_job, router.context, spec, "schedule")
        deliverer = TelegramDeliverer(bot.app.bot, sqlite_engine)
        assert await OutboxSender(sqlite_engine, {"telegram": deliverer}).send_due() == 1
        [post] = [m for (c, _), m in telegram_api.messages.items() if c == KNOWN_CHAT]
        post = await opened(bot, post, 2)
        await press(bot, post, button(post, 2, "False positive"), "q-post")
        edited = numbered_paragraphs(telegram_api.messages[(KNOWN_CHAT, post["message_id"])])
        assert edited[2].endswith("false positive, marked by alice")
        assert not edited[1].endswith("alice")
    finally:
        await bot.app.stop()
        await bot.app.shutdown()


async def test_an_admins_mute_press_redraws_the_findings_paragraph_without_its_buttons(
    telegram_api: TelegramApi, sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    """After a false positive, `#1 Mute F401 here`: an admin's press mutes the rule and
    edits that paragraph to say so, its buttons gone; the other finding's stay."""
    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    router = reviewing_router(sqlite_engine, git_repo, tmp_path)
    config = router.context.config.model_dump()
    config["access"]["admins"] = ["telegram:7"]
    router.context.config = Config.model_validate(config)
    bot = await running_bot(telegram_api, router, sqlite_engine)
    try:
        [review] = await command(bot, "/review demo")
        review = await opened(bot, review, 1)
        await press(bot, review, button(review, 1, "False positive"), "q-fp")
        marked = telegram_api.messages[(KNOWN_CHAT, review["message_id"])]
        mute = button(marked, 1, "Mute F401 here")
        await press(bot, review, mute, "q-mute-viewer")  # alice: a viewer
        assert bot.api.called("answerCallbackQuery")[-1].params["show_alert"] == "true"
        await press(bot, review, mute, "q-mute", user_id=7)
    finally:
        await bot.app.stop()
        await bot.app.shutdown()
    muted = telegram_api.messages[(KNOWN_CHAT, review["message_id"])]
    assert "rule muted in this repository by" in numbered_paragraphs(muted)[1]
    labels = [b["text"] for row in rows(muted) for b in row]
    assert not [label for label in labels if label.startswith("#1 ")]
    assert [label for label in labels if label.startswith("#2 ")]
    with Session(sqlite_engine) as session:
        (row,) = session.exec(select(RuleMute)).all()
    assert (row.rule, row.muted_by) == ("F401", "telegram:7")
