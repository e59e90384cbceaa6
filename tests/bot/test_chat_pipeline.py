"""The chat pipeline both adapters call: what the acknowledgement may say without I/O,
and what comes after it."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.chat_pipeline import Arrival, ChatPipeline
from bot.work_queue import WorkQueue
from handlers.access import Caller
from handlers.catalog import build_router
from handlers.router import Command, Request, Router
from jobs.config.schema import AccessConfig, Config
from jobs.core.reply import Reply
from storage.models import InboundEvent
from tests.support.context import jobs_context

MEMBER = Caller("slack", "U1", "C1", "ann", command_prefix="/opsdesk ")
STRANGER = Caller("slack", "U9", "C9", "eve", command_prefix="/opsdesk ")


def pipeline_over(engine: Engine, queue: WorkQueue | None = None) -> tuple[ChatPipeline, Router]:
    config = Config(access=AccessConfig(chats=["slack:C1"]))
    router = build_router(jobs_context(engine, config))
    router.commands["slow"] = Command("slow", "/slow", "", slow_answer, slow=True)
    return ChatPipeline(router, "slack", queue), router


def slow_answer(request: Request) -> Reply:
    return Reply.text(f"slow for {request.caller.user_id}")


def inbound(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(InboundEvent.event_key)).all())


def test_an_answer_that_needs_no_io_is_ready_on_the_acks_path(sqlite_engine: Engine) -> None:
    pipeline, _ = pipeline_over(sqlite_engine)
    ticket = pipeline.take(Arrival(MEMBER, "/help", key="k1"))
    assert ticket.now is not None and ticket.now.status == "ok"
    assert ticket.lane is None and ticket.waiting is None
    typo = pipeline.take(Arrival(MEMBER, "/helth", key="k2")).now
    assert typo is not None and "Did you mean /opsdesk health?" in typo.blocks[0].text
    assert inbound(sqlite_engine) == []  # nothing written to say it


def test_work_takes_a_place_in_its_lane_and_says_how_it_waits(sqlite_engine: Engine) -> None:
    pipeline, _ = pipeline_over(sqlite_engine, WorkQueue(slow_workers=1))
    quick = pipeline.take(Arrival(MEMBER, "/health", key="q"))
    assert (quick.lane, quick.ahead, quick.waiting) == ("quick", None, None)
    first = pipeline.take(Arrival(MEMBER, "/slow", key="s1"))
    assert (first.lane, first.waiting) == ("slow", "working")
    second = pipeline.take(Arrival(MEMBER, "/slow", key="s2"))
    assert (second.ahead, second.waiting) == (0, "queued")
    retried = pipeline.take(Arrival(MEMBER, "/slow", key="s1", retry=True))
    assert retried.lane == "slow" and retried.waiting is None  # the first one said it


def test_a_full_lane_answers_busy_at_once(sqlite_engine: Engine) -> None:
    pipeline, _ = pipeline_over(sqlite_engine, WorkQueue(slow_workers=1, max_waiting=1))
    pipeline.take(Arrival(MEMBER, "/slow", key="s1"))
    full = pipeline.take(Arrival(MEMBER, "/slow", key="s2"))
    assert full.lane is None and full.now is not None
    assert "busy with other commands" in full.now.blocks[0].text


async def test_a_stranger_hears_one_refusal_an_hour_and_nothing_is_recorded(
    sqlite_engine: Engine,
) -> None:
    pipeline, _ = pipeline_over(sqlite_engine)
    first = pipeline.take(Arrival(STRANGER, "/health", key="e1"))
    assert first.now is not None and first.now.status == "refused"
    assert "This chat is slack:C9; this message is not repeated within the hour." in (
        first.now.blocks[0].text
    )
    assert await pipeline.answer(first) == first.now
    again = pipeline.take(Arrival(STRANGER, "/help", key="e2"))
    assert again.now is None and await pipeline.answer(again) is None
    assert await pipeline.press(Arrival(STRANGER, "fb:1:h", key="e3")) is None
    assert inbound(sqlite_engine) == []


async def test_after_the_ack_a_redelivery_is_answered_once(sqlite_engine: Engine) -> None:
    pipeline, _ = pipeline_over(sqlite_engine)
    for text in ("/slow", "/help"):  # work, and an answer ready at once
        first = await pipeline.answer(pipeline.take(Arrival(MEMBER, text, key=f"k{text}")))
        again = await pipeline.answer(pipeline.take(Arrival(MEMBER, text, key=f"k{text}")))
        assert first is not None and first.status == "ok"
        assert again is None
    assert sorted(inbound(sqlite_engine)) == ["k/help", "k/slow"]


async def test_while_waiting_hears_what_the_ticket_says(sqlite_engine: Engine) -> None:
    pipeline, _ = pipeline_over(sqlite_engine)
    told: list[str] = []

    async def tell(waiting: str) -> None:
        told.append(waiting)

    reply = await pipeline.answer(
        pipeline.take(Arrival(MEMBER, "/slow", key="w")), while_waiting=tell
    )
    assert reply is not None and reply.blocks[0].text == "slow for U1"
    assert told == ["working"]
