"""Slash commands and button presses through the real bolt app over HTTP."""

from __future__ import annotations

import asyncio
import json

from sqlmodel import Session, select

from bot.slack.listeners import WORKING
from bot.slack.render import render_blocks
from handlers.access import Role
from handlers.router import Command, Request, Router
from jobs.context import Context
from jobs.core.reply import Reply
from jobs.review.feedback import mark_shown
from jobs.review.replies import finding_block
from storage.models import Feedback, Finding, InboundEvent
from tests.bot.slack.conftest import MEMBER_CHANNEL, SlackServer

QUIET = 0.3  # how long to wait before asserting that nothing (more) happened


def findings_message(context: Context, finding_id: int) -> list[dict]:
    """The blocks of a review with one finding posted to MEMBER_CHANNEL (recorded as
    shown there, as a scheduled post is), as Slack would send them back."""
    with Session(context.engine) as session:
        finding = session.get(Finding, finding_id)
        assert finding is not None
        block = finding_block(finding)
    mark_shown(context.engine, f"slack:{MEMBER_CHANNEL}", [finding_id])
    return render_blocks(Reply(title="Review of demo", blocks=[block], note="lint reviewer"))


def inbound_events(context: Context) -> list[InboundEvent]:
    """The deliveries recorded for de-duplication."""
    with Session(context.engine) as session:
        return list(session.exec(select(InboundEvent)).all())


def votes(context: Context) -> list[Feedback]:
    with Session(context.engine) as session:
        return list(session.exec(select(Feedback)).all())


async def test_an_instant_command_is_answered_in_its_ack(slack_server: SlackServer) -> None:
    status, body = await slack_server.post(slack_server.command_body("help"))
    assert status == 200
    answer = json.loads(body)
    assert answer["response_type"] == "in_channel"
    assert answer["blocks"][0]["type"] == "header"


async def test_a_quick_command_is_acked_empty_then_answers_through_the_response_url(
    slack_server: SlackServer,
) -> None:
    status, body = await slack_server.post(slack_server.command_body("health"))
    assert (status, body) == (200, "")
    (answer,) = await slack_server.fake.wait_for("response")
    assert answer.args["response_type"] == "in_channel"
    assert "Health" in json.dumps(answer.args["blocks"])


async def test_opsdesk_alone_answers_with_help_written_as_typed_in_slack(
    slack_server: SlackServer,
) -> None:
    _, body = await slack_server.post(slack_server.command_body(""))
    shown = json.dumps(json.loads(body)["blocks"])
    assert "/opsdesk health" in shown
    assert "/opsdesk review &lt;repo&gt;" in shown
    assert "\\n/review" not in shown and '"/review' not in shown


async def test_usage_errors_and_hints_name_the_slack_command(slack_server: SlackServer) -> None:
    _, typo = await slack_server.post(slack_server.command_body("helth", trigger_id="1.typo"))
    shown = json.dumps(json.loads(typo)["blocks"])
    assert "Did you mean /opsdesk health?" in shown
    assert "Send /opsdesk help" in shown
    await slack_server.post(slack_server.command_body("digest month", trigger_id="1.usage"))
    (answer,) = await slack_server.fake.wait_for("response")
    assert "Usage: /opsdesk digest [day|week]" in json.dumps(answer.args["blocks"])


async def test_an_alias_runs_its_command(slack_server: SlackServer) -> None:
    status, _ = await slack_server.post(
        slack_server.command_body("", command="/od-health", trigger_id="9.9.alias")
    )
    assert status == 200
    (answer,) = await slack_server.fake.wait_for("response")
    assert "Health" in json.dumps(answer.args["blocks"])


async def test_a_slow_command_is_acked_then_answers_through_the_response_url(
    slack_server: SlackServer, slack_router: Router
) -> None:
    def slowpoke(request: Request) -> Reply:
        return Reply.text(f"done for {request.caller.user_id}", title="Slow")

    slack_router.commands["slowpoke"] = Command("slowpoke", "/slowpoke", "", slowpoke, slow=True)
    status, body = await slack_server.post(slack_server.command_body("slowpoke"))
    assert status == 200
    ack = json.loads(body)
    assert ack == {"text": WORKING, "response_type": "ephemeral"}
    (answer,) = await slack_server.fake.wait_for("response")
    assert answer.args["response_type"] == "in_channel"
    assert "done for U0ALICE" in json.dumps(answer.args["blocks"])


async def test_a_redelivered_command_posts_nothing_more(
    slack_server: SlackServer, slack_router: Router
) -> None:
    runs = []

    def counted(request: Request) -> Reply:
        runs.append(request.caller.user_id)
        return Reply.text("counted")

    slack_router.commands["counted"] = Command("counted", "/counted", "", counted, slow=True)
    body = slack_server.command_body("counted", trigger_id="5.5.once")
    await slack_server.post(body)
    await slack_server.fake.wait_for("response")
    status, again = await slack_server.post(body, retry_num=1)
    assert (status, again) == (200, "")
    await asyncio.sleep(QUIET)
    assert runs == ["U0ALICE"]
    assert len(slack_server.fake.ok_calls("response")) == 1


async def test_errors_and_refusals_are_ephemeral(slack_server: SlackServer) -> None:
    _, unknown = await slack_server.post(slack_server.command_body("nosuch"))
    assert json.loads(unknown)["response_type"] == "ephemeral"
    stranger = slack_server.command_body("health", user="U0EVE", channel="C0ELSE", trigger_id="7")
    _, refused = await slack_server.post(stranger)
    answer = json.loads(refused)
    assert answer["response_type"] == "ephemeral"
    assert "not on this opsdesk's access list" in json.dumps(answer["blocks"])


async def test_a_stranger_costs_no_rows_and_hears_one_refusal_an_hour(
    slack_server: SlackServer, slack_context: Context
) -> None:
    answers = []
    for n in range(30):
        body = slack_server.command_body(
            "health", user="U0EVE", channel="C0ELSE", trigger_id=f"s{n}"
        )
        answers.append((await slack_server.post(body))[1])
    assert "not on this opsdesk's access list" in answers[0]
    assert answers[1:] == [""] * 29
    assert inbound_events(slack_context) == []


async def test_a_bad_signature_is_refused_and_nothing_recorded(
    slack_server: SlackServer, slack_context: Context, finding_id: int
) -> None:
    blocks = findings_message(slack_context, finding_id)
    for body in (
        slack_server.command_body("health"),
        slack_server.action_body(blocks, f"fb:{finding_id}:h"),
    ):
        status, _ = await slack_server.post(body, secret="not-the-secret")
        assert status == 401
    await asyncio.sleep(QUIET)
    assert slack_server.fake.calls == []
    assert votes(slack_context) == []
    assert inbound_events(slack_context) == []


async def test_a_press_records_one_vote_and_updates_the_message(
    slack_server: SlackServer, slack_context: Context, finding_id: int
) -> None:
    blocks = findings_message(slack_context, finding_id)
    status, _ = await slack_server.post(slack_server.action_body(blocks, f"fb:{finding_id}:h"))
    assert status == 200
    (update,) = await slack_server.fake.wait_for("chat.update")
    [vote] = votes(slack_context)
    assert (vote.finding_id, vote.user, vote.verdict) == (finding_id, "slack:U0ALICE", "helpful")
    assert update.args["channel"] == "C0MEMBERS"
    assert update.args["ts"] == "1700000000.000100"
    new_blocks = update.args["blocks"]
    # The header and the note around the finding are kept; the finding is redrawn.
    assert new_blocks[0] == blocks[0]
    assert new_blocks[-1] == blocks[-1]
    finding = next(
        b for b in new_blocks if b.get("block_id", "").startswith(f"finding:{finding_id}~r")
    )
    assert "✓ Helpful — marked by alice" in finding["text"]["text"]
    labels = [
        e["text"]["text"] for b in new_blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert "✓ Helpful" in labels


async def test_a_redelivered_press_changes_nothing(
    slack_server: SlackServer, slack_context: Context, finding_id: int
) -> None:
    blocks = findings_message(slack_context, finding_id)
    body = slack_server.action_body(blocks, f"fb:{finding_id}:fp")
    await slack_server.post(body)
    await slack_server.fake.wait_for("chat.update")
    status, _ = await slack_server.post(body, retry_num=1)
    assert status == 200
    await asyncio.sleep(QUIET)
    assert len(votes(slack_context)) == 1
    assert len(slack_server.fake.ok_calls("chat.update")) == 1


async def test_a_non_member_is_refused_privately_and_no_vote_is_recorded(
    slack_server: SlackServer, slack_context: Context, finding_id: int
) -> None:
    blocks = findings_message(slack_context, finding_id)
    body = slack_server.action_body(blocks, f"fb:{finding_id}:h", user="U0EVE", channel="C0ELSE")
    status, _ = await slack_server.post(body)
    assert status == 200
    (refusal,) = await slack_server.fake.wait_for("chat.postEphemeral")
    assert (refusal.args["channel"], refusal.args["user"]) == ("C0ELSE", "U0EVE")
    assert "not on this opsdesk's access list" in refusal.args["text"] + json.dumps(
        refusal.args["blocks"]
    )
    await asyncio.sleep(QUIET)
    assert votes(slack_context) == []
    assert slack_server.fake.ok_calls("chat.update") == []


async def test_a_viewer_pressing_an_admin_button_is_refused(
    slack_server: SlackServer, slack_router: Router, slack_context: Context
) -> None:
    from handlers.router import Action
    from jobs.core.reply import Block, Button

    slack_router.actions["pause"] = Action("pause", lambda r: Reply.text("paused"), Role.ADMIN)
    blocks = render_blocks(
        Reply(
            blocks=[
                Block(text="job", key="job:x", buttons=[Button(label="Pause", payload="pause:x")])
            ]
        )
    )
    await slack_server.post(slack_server.action_body(blocks, "pause:x"))
    (refusal,) = await slack_server.fake.wait_for("chat.postEphemeral")
    assert "admins" in json.dumps(refusal.args["blocks"])
    assert slack_server.fake.ok_calls("chat.update") == []


async def test_formatting_characters_in_an_answer_are_shown_as_typed(
    slack_server: SlackServer, slack_router: Router
) -> None:
    def echo(_request: Request) -> Reply:
        return Reply.text("fix *all* the ~bugs~ in `main` _today_")

    slack_router.commands["echo"] = Command("echo", "/echo", "", echo)
    await slack_server.post(slack_server.command_body("echo", trigger_id="echo.1"))
    (answer,) = await slack_server.fake.wait_for("response")
    [text] = [b["text"]["text"] for b in answer.args["blocks"] if b["type"] == "section"]
    z = "\u200b"
    assert (
        text
        == f"fix {z}*{z}all{z}*{z} the {z}~{z}bugs{z}~{z} in {z}`{z}main{z}`{z} {z}_{z}today{z}_{z}"
    )
    assert "*all*" not in answer.args["text"]
