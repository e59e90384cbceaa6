"""Slash commands, translated: what rides in the ack, what follows through the
response URL, how Slack's redeliveries and strangers are met, in HTTP mode and over
Socket Mode. What each command answers is the router's (tests/handlers)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlmodel import Session, select

from bot.slack.listeners import WORKING
from handlers.router import Command, Request, Router
from jobs.context import Context
from jobs.core.reply import Reply
from storage.models import InboundEvent
from tests.bot.slack.conftest import SlackBot
from tests.support.commands import slow_command, wait_started


def inbound_events(context: Context) -> list[InboundEvent]:
    """The deliveries recorded for de-duplication."""
    with Session(context.engine) as session:
        return list(session.exec(select(InboundEvent)).all())


def add_counted(router: Router, runs: list[str]) -> None:
    """`/counted`: a slow command that notes who ran it."""

    def counted(request: Request) -> Reply:
        runs.append(request.caller.user_id)
        return Reply.text(f"done for {request.caller.user_id}", title="Counted")

    router.commands["counted"] = Command("counted", "/counted", "", counted, slow=True)


async def test_an_instant_command_is_answered_in_its_ack(slack: SlackBot) -> None:
    status, body = await slack.post(slack.payloads.command_body("help"))
    assert status == 200
    answer = json.loads(body)
    assert answer["response_type"] == "in_channel"
    assert answer["blocks"][0]["type"] == "header"


async def test_a_quick_command_is_acked_empty_then_answers_through_the_response_url(
    slack: SlackBot,
) -> None:
    status, body = await slack.post(slack.payloads.command_body("health"))
    assert (status, body) == (200, "")
    await slack.settled()
    (answer,) = slack.fake.ok_calls("response")
    assert answer.args["response_type"] == "in_channel"
    assert answer.args["replace_original"] is False
    assert "All up" in json.dumps(answer.args["blocks"])  # /health's one line


async def test_opsdesk_alone_answers_with_help_written_as_typed_in_slack(slack: SlackBot) -> None:
    _, body = await slack.post(slack.payloads.command_body(""))
    shown = json.dumps(json.loads(body)["blocks"])
    assert "/opsdesk health" in shown
    assert "/opsdesk review &lt;repo&gt;" in shown
    assert "\\n/review" not in shown and '"/review' not in shown


async def test_usage_errors_and_hints_name_the_slack_command(slack: SlackBot) -> None:
    _, typo = await slack.post(slack.payloads.command_body("helth", trigger_id="1.typo"))
    shown = json.dumps(json.loads(typo)["blocks"])
    assert "Did you mean /opsdesk health?" in shown
    assert "Send /opsdesk help" in shown
    await slack.post(slack.payloads.command_body("digest month", trigger_id="1.usage"))
    await slack.settled()
    (answer,) = slack.fake.ok_calls("response")
    assert "Usage: /opsdesk digest [day|week]" in json.dumps(answer.args["blocks"])


async def test_an_alias_runs_its_command(slack: SlackBot) -> None:
    status, _ = await slack.post(
        slack.payloads.command_body("", command="/od-health", trigger_id="9.9.alias")
    )
    assert status == 200
    await slack.settled()
    (answer,) = slack.fake.ok_calls("response")
    assert "All up" in json.dumps(answer.args["blocks"])  # /health's one line


@pytest.mark.parametrize("retry_num", [None, 0])
async def test_a_slow_command_is_acked_as_worked_on_then_answers_through_the_response_url(
    slack: SlackBot, slack_router: Router, retry_num: int | None
) -> None:
    """A retry number of 0 is a first delivery (bolt sends it so over Socket Mode)."""
    runs: list[str] = []
    add_counted(slack_router, runs)
    body = slack.payloads.command_body("counted")
    status, ack = await slack.post(body, retry_num=retry_num)
    assert status == 200
    assert json.loads(ack) == {"text": WORKING, "response_type": "ephemeral"}
    await slack.settled()
    (answer,) = slack.fake.ok_calls("response")
    assert answer.args["response_type"] == "in_channel"
    assert "done for U0ALICE" in json.dumps(answer.args["blocks"])
    assert runs == ["U0ALICE"]


async def test_a_redelivered_command_posts_nothing_more(
    slack: SlackBot, slack_router: Router
) -> None:
    runs: list[str] = []
    add_counted(slack_router, runs)
    body = slack.payloads.command_body("counted", trigger_id="5.5.once")
    await slack.post(body)
    await slack.settled()
    status, again = await slack.post(body, retry_num=1)
    assert (status, again) == (200, "")  # the first delivery said what needed saying
    await slack.settled()
    assert runs == ["U0ALICE"]
    assert len(slack.fake.ok_calls("response")) == 1


async def test_errors_and_refusals_are_ephemeral(slack: SlackBot) -> None:
    _, unknown = await slack.post(slack.payloads.command_body("nosuch"))
    assert json.loads(unknown)["response_type"] == "ephemeral"
    stranger = slack.payloads.command_body("health", user="U0EVE", channel="C0ELSE", trigger_id="7")
    _, refused = await slack.post(stranger)
    answer = json.loads(refused)
    assert answer["response_type"] == "ephemeral"
    assert "not on this opsdesk's access list" in json.dumps(answer["blocks"])


async def test_a_stranger_costs_no_rows_and_hears_one_refusal_an_hour(
    slack: SlackBot, slack_context: Context
) -> None:
    answers = []
    for n in range(30):
        body = slack.payloads.command_body(
            "health", user="U0EVE", channel="C0ELSE", trigger_id=f"s{n}"
        )
        answers.append((await slack.post(body))[1])
    assert "not on this opsdesk's access list" in answers[0]
    assert "slack:C0ELSE" in answers[0]  # which chat, so an admin can let it in
    assert answers[1:] == [""] * 29
    await slack.settled()
    assert inbound_events(slack_context) == []
    # bolt's one auth.test (the bot's own identity) and nothing said after the ack.
    assert {call.method for call in slack.fake.calls} <= {"auth.test"}


async def test_a_bad_signature_is_refused_and_nothing_recorded(
    slack: SlackBot, slack_context: Context
) -> None:
    status, _ = await slack.post(slack.payloads.command_body("health"), secret="not-the-secret")
    assert status == 401
    await slack.settled()
    assert slack.fake.calls == []
    assert inbound_events(slack_context) == []


async def test_formatting_characters_in_an_answer_are_shown_as_typed(
    slack: SlackBot, slack_router: Router
) -> None:
    def echo(_request: Request) -> Reply:
        return Reply.text("fix *all* the ~bugs~ in `main` _today_")

    slack_router.commands["echo"] = Command("echo", "/echo", "", echo)
    await slack.post(slack.payloads.command_body("echo", trigger_id="echo.1"))
    await slack.settled()
    (answer,) = slack.fake.ok_calls("response")
    [text] = [b["text"]["text"] for b in answer.args["blocks"] if b["type"] == "section"]
    z = "\u200b"
    assert (
        text
        == f"fix {z}*{z}all{z}*{z} the {z}~{z}bugs{z}~{z} in {z}`{z}main{z}`{z} {z}_{z}today{z}_{z}"
    )
    # Notifications do not format: their line is the text as typed, nothing invisible in it.
    assert answer.args["text"] == "fix *all* the ~bugs~ in `main` _today_"


# -- Socket Mode: the same app, envelopes instead of signed requests ------------------


async def test_over_socket_mode_an_instant_command_is_answered_in_its_ack(
    slack: SlackBot,
) -> None:
    ack = await slack.envelope("slash_commands", slack.payloads.command_body("help"))
    assert ack["response_type"] == "in_channel"
    assert ack["blocks"][0]["type"] == "header"


async def test_over_socket_mode_a_quick_command_is_acked_then_answered(slack: SlackBot) -> None:
    ack = await slack.envelope(
        "slash_commands", slack.payloads.command_body("health", trigger_id="t-3")
    )
    assert ack == {}
    await slack.settled()
    (answer,) = slack.fake.ok_calls("response")
    assert "All up" in json.dumps(answer.args["blocks"])  # /health's one line


async def test_over_socket_mode_a_first_delivery_of_a_slow_command_says_it_is_worked_on(
    slack: SlackBot, slack_router: Router
) -> None:
    """bolt gives every envelope x-slack-retry-num: its retry_attempt, 0 the first time."""
    runs: list[str] = []
    add_counted(slack_router, runs)
    body = slack.payloads.command_body("counted", trigger_id="t-slow")
    ack = await slack.envelope("slash_commands", body, retry_attempt=0)
    assert ack == {"text": WORKING, "response_type": "ephemeral"}
    again = await slack.envelope("slash_commands", body, retry_attempt=1)
    assert again == {}
    await slack.settled()
    assert runs == ["U0ALICE"]
    assert len(slack.fake.ok_calls("response")) == 1


# -- Ack first, always ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["http", "socket"])
async def test_quick_commands_are_acked_and_answered_while_seven_slow_ones_hold_every_worker(
    slack: SlackBot, slack_router: Router, mode: str
) -> None:
    """The slow lane's four workers are held (and three more wait) until the test
    lets them go: the acks below could not come if acking waited on any of them."""

    async def send(text: str, trigger: str) -> dict[str, object]:
        body = slack.payloads.command_body(text, trigger_id=trigger)
        if mode == "socket":
            return await slack.envelope("slash_commands", body)
        status, ack = await slack.post(body)
        assert status == 200
        return json.loads(ack) if ack else {}

    started: list[str] = []
    with slow_command(slack_router, started):
        slow_acks = [await send("slow", f"slow.{i}") for i in range(7)]
        quick_acks = [
            await send(text, f"q.{i}")
            for i, text in enumerate(["health", "help", "jobs", "health", "nosuch"])
        ]
        # Slow work beyond the slow lane's workers waits and says how far back it is.
        assert sorted(str(ack["text"]) for ack in slow_acks) == [
            "Queued: 1 ahead of you.",
            "Queued: 2 ahead of you.",
            "Queued: next in line.",
            *[WORKING] * 4,
        ]
        assert quick_acks[0] == {} and quick_acks[2] == {}  # answered later
        assert quick_acks[1]["blocks"][0]["type"] == "header"  # help, in the ack
        assert quick_acks[4]["response_type"] == "ephemeral"  # a typo, in the ack
        # The three quick commands that need the database answer while the slow ones wait.
        answers = await slack.fake.wait_for("response", count=3)
        assert all("slow done" not in json.dumps(a.args) for a in answers)
        # Four workers hold four of them (each acked "working on it"), none a fifth.
        await asyncio.to_thread(wait_started, started, 4)
        assert len(started) == 4
    await slack.settled()
    assert len(slack.fake.ok_calls("response")) == 3 + 7
    assert len(started) == 7


async def test_the_ack_needs_no_database(
    slack: SlackBot, slack_router: Router, slack_context: Context
) -> None:
    """With the database locked by another writer, commands are still acked (help in
    its ack, a slow command's "working on it"); their work waits for the lock."""
    runs: list[str] = []
    add_counted(slack_router, runs)
    with slack_context.engine.connect() as locker:
        locker.exec_driver_sql("BEGIN EXCLUSIVE")
        _, helped = await slack.post(slack.payloads.command_body("help", trigger_id="lk.1"))
        _, working = await slack.post(slack.payloads.command_body("counted", trigger_id="lk.2"))
        assert json.loads(helped)["blocks"][0]["type"] == "header"
        assert json.loads(working)["text"] == WORKING
        assert runs == []
        locker.exec_driver_sql("ROLLBACK")
    await slack.settled()
    assert runs == ["U0ALICE"]
