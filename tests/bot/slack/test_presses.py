"""Button presses, translated: acknowledged at once, recorded once, the pressed
message redrawn in place or a refusal told to the presser alone. Which presses count
(a finding shown in that chat, a viewer's rights, the false-positive story) is the
router's: tests/handlers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.slack.render import render_blocks
from handlers.access import Role
from handlers.router import Action, Router
from jobs.config.schema import Config
from jobs.context import Context
from jobs.core.reply import Block, Button, Reply
from jobs.review.feedback import mark_shown
from jobs.review.replies import finding_block
from storage.models import Feedback, Finding, InboundEvent, RuleMute
from tests.bot.slack.conftest import MEMBER_CHANNEL, Blocks, SlackBot
from tests.support.feedback import TWO_UNUSED, feedback_rows
from tests.support.git_repo import Repo
from tests.support.rows import add_finding


def findings_message(context: Context, *finding_ids: int) -> Blocks:
    """The blocks of a review of these findings posted to MEMBER_CHANNEL (recorded as
    shown there, as a posted review is), as Slack would send them back."""
    with Session(context.engine) as session:
        blocks = []
        for finding_id in finding_ids:
            finding = session.get(Finding, finding_id)
            assert finding is not None
            blocks.append(finding_block(finding))
    mark_shown(context.engine, f"slack:{MEMBER_CHANNEL}", finding_ids)
    return render_blocks(Reply(title="Review of demo", blocks=blocks, note="lint reviewer"))


def votes(context: Context) -> list[Feedback]:
    with Session(context.engine) as session:
        return list(session.exec(select(Feedback)).all())


def text_of(blocks: Blocks) -> str:
    """The text as a reader sees it: without the zero-width spaces that keep
    formatting characters from repositories (`os`) from pairing up in mrkdwn."""
    return json.dumps(blocks, ensure_ascii=False).replace("\u200b", "")


def action_id(blocks: Blocks, label: str, finding: int = 0) -> str:
    """The action_id of the button `label` under the `finding`-th finding."""
    rows = [b for b in blocks if b["type"] == "actions" and b["block_id"].startswith("finding:")]
    return next(e["action_id"] for e in rows[finding]["elements"] if e["text"]["text"] == label)


async def test_a_press_is_acked_at_once_records_one_vote_and_updates_the_message(
    slack: SlackBot, slack_context: Context, finding_id: int
) -> None:
    blocks = findings_message(slack_context, finding_id)
    status, ack = await slack.post(slack.payloads.action_body(blocks, f"fb:{finding_id}:h"))
    assert (status, ack) == (200, "")
    await slack.settled()
    (update,) = slack.fake.ok_calls("chat.update")
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
    assert "👍 Helpful — marked by alice" in finding["text"]["text"]
    labels = [
        e["text"]["text"] for b in new_blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert "Helpful" in labels and not any("✓" in label for label in labels)


async def test_a_press_over_socket_mode_is_translated_alike(
    slack: SlackBot, slack_context: Context, finding_id: int
) -> None:
    blocks = findings_message(slack_context, finding_id)
    body = slack.payloads.action_body(blocks, f"fb:{finding_id}:fp")
    assert await slack.envelope("interactive", body) == {}
    await slack.settled()
    (update,) = slack.fake.ok_calls("chat.update")
    assert "false positive, marked by alice" in text_of(update.args["blocks"])
    assert [v.verdict for v in votes(slack_context)] == ["false_positive"]


async def test_a_redelivered_press_changes_nothing(
    slack: SlackBot, slack_context: Context, finding_id: int
) -> None:
    blocks = findings_message(slack_context, finding_id)
    body = slack.payloads.action_body(blocks, f"fb:{finding_id}:fp")
    await slack.post(body)
    await slack.settled()
    status, _ = await slack.post(body, retry_num=1)
    assert status == 200
    await slack.settled()
    assert len(votes(slack_context)) == 1
    assert len(slack.fake.ok_calls("chat.update")) == 1


async def test_a_bad_signature_on_a_press_is_refused_and_nothing_recorded(
    slack: SlackBot, slack_context: Context, finding_id: int
) -> None:
    blocks = findings_message(slack_context, finding_id)
    body = slack.payloads.action_body(blocks, f"fb:{finding_id}:h")
    status, _ = await slack.post(body, secret="not-the-secret")
    assert status == 401
    await slack.settled()
    assert slack.fake.calls == []
    assert votes(slack_context) == []
    with Session(slack_context.engine) as session:
        assert session.exec(select(InboundEvent)).all() == []


async def test_a_non_member_is_refused_privately_and_no_vote_is_recorded(
    slack: SlackBot, slack_context: Context, finding_id: int
) -> None:
    blocks = findings_message(slack_context, finding_id)
    body = slack.payloads.action_body(blocks, f"fb:{finding_id}:h", user="U0EVE", channel="C0ELSE")
    status, _ = await slack.post(body)
    assert status == 200
    await slack.settled()
    (refusal,) = slack.fake.ok_calls("chat.postEphemeral")
    assert (refusal.args["channel"], refusal.args["user"]) == ("C0ELSE", "U0EVE")
    assert "not on this opsdesk's access list" in refusal.args["text"] + json.dumps(
        refusal.args["blocks"]
    )
    assert votes(slack_context) == []
    assert slack.fake.ok_calls("chat.update") == []


async def test_a_press_the_router_refuses_is_told_privately_without_the_finding(
    slack: SlackBot, slack_context: Context
) -> None:
    """A member channel pressing a finding it was never shown (the router refuses)."""
    never_shown = add_finding(slack_context.engine, message="`os` imported but unused")
    blocks = render_blocks(Reply(blocks=[finding_block(never_shown)]))
    await slack.post(slack.payloads.action_body(blocks, f"fb:{never_shown.id}:fp"))
    await slack.settled()
    (refusal,) = slack.fake.ok_calls("chat.postEphemeral")
    assert refusal.args["user"] == "U0ALICE"
    assert "nothing was recorded" in text_of(refusal.args["blocks"])
    assert "imported" not in text_of(refusal.args["blocks"])
    assert votes(slack_context) == []
    assert slack.fake.ok_calls("chat.update") == []


async def test_a_viewer_pressing_an_admin_button_is_refused(
    slack: SlackBot, slack_router: Router
) -> None:
    slack_router.actions["pause"] = Action("pause", lambda r: Reply.text("paused"), Role.ADMIN)
    blocks = render_blocks(
        Reply(
            blocks=[
                Block(text="job", key="job:x", buttons=[Button(label="Pause", payload="pause:x")])
            ]
        )
    )
    await slack.post(slack.payloads.action_body(blocks, "pause:x"))
    await slack.settled()
    (refusal,) = slack.fake.ok_calls("chat.postEphemeral")
    assert "admins" in json.dumps(refusal.args["blocks"])
    assert slack.fake.ok_calls("chat.update") == []


async def test_two_quick_presses_on_one_message_both_show(
    slack: SlackBot, slack_context: Context
) -> None:
    first = add_finding(slack_context.engine, message="`os` imported but unused").id
    second = add_finding(slack_context.engine, message="`sys` imported but unused").id
    assert first is not None and second is not None
    review = findings_message(slack_context, first, second)
    # Both payloads carry the message as it was before either press.
    await asyncio.gather(
        slack.post(
            slack.payloads.action_body(
                review, action_id(review, "Helpful", 0), action_ts="1700000200.000001"
            )
        ),
        slack.post(
            slack.payloads.action_body(
                review, action_id(review, "Resolved", 1), action_ts="1700000200.000002"
            )
        ),
    )
    await slack.settled()
    updates = slack.fake.ok_calls("chat.update")
    assert len(updates) == 2
    final = text_of(updates[-1].args["blocks"])
    assert "👍 Helpful — marked by alice" in final
    assert "✅ Resolved — marked by alice" in final


# -- Over a real review: a git repository reviewed by ruff --------------------------------


@pytest.fixture
def reviewing(slack_router: Router, git_repo: Repo, tmp_path: Path) -> Router:
    """The router over repository "demo", a real git repository with two unused imports."""
    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    config = Config.model_validate(
        {
            "repos": [{"name": "demo", "path": str(git_repo.path)}],
            "reviewer": {"lint": {"select": ["F"]}},
            "access": {"chats": [f"slack:{MEMBER_CHANNEL}"]},
        }
    )
    slack_router.context.config = config
    slack_router.context.data_dir = tmp_path / "data"
    return slack_router


async def answered(slack: SlackBot, text: str, trigger: str) -> Blocks:
    """A slow command's blocks, as its response URL received them."""
    before = len(slack.fake.ok_calls("response"))
    await slack.post(slack.payloads.command_body(text, trigger_id=trigger))
    await slack.settled()
    [*_, response] = slack.fake.ok_calls("response")
    assert len(slack.fake.ok_calls("response")) == before + 1
    return list(response.args["blocks"])


async def test_a_review_shows_its_summary_first_and_a_false_positive_press_redraws_it(
    slack: SlackBot, reviewing: Router, slack_context: Context
) -> None:
    review = await answered(slack, "review demo", "t-1")
    assert review[0]["type"] == "header"  # the news first: "demo: first review — 2 findings"
    assert review[0]["text"]["text"] == "demo: first review — 2 findings"
    assert "0 marked false positive" in text_of(review) and "`os` imported" in text_of(review)
    false_positive = action_id(review, "False positive")
    finding_id = int(false_positive.split(":")[1])
    await slack.post(slack.payloads.action_body(review, false_positive, action_ts="17.1"))
    await slack.settled()
    [update] = slack.fake.ok_calls("chat.update")
    marked = update.args["blocks"]
    assert "false positive, marked by alice" in text_of(marked)
    assert [b for b in marked if b.get("block_id", "").startswith(f"finding:{finding_id}~r")]
    assert feedback_rows(slack_context.engine) == [(finding_id, "slack:U0ALICE", "false_positive")]

    listing = await answered(slack, "findings demo suppressed", "t-2")
    assert "`app.py:1`" in text_of(listing) and "marked by alice" in text_of(listing)
    undo = action_id(listing, "Undo false positive")
    await slack.post(slack.payloads.action_body(listing, undo, action_ts="17.2"))
    await slack.settled()
    undone = slack.fake.ok_calls("chat.update")[-1].args["blocks"]
    # Unfolded again: the finding with its four buttons, no confirmation line left behind.
    assert "os` imported but unused" in text_of(undone) and "undone by" not in text_of(undone)
    assert feedback_rows(slack_context.engine) == []


async def test_an_admin_mutes_the_rule_of_a_false_positive_and_the_message_says_so(
    slack: SlackBot, reviewing: Router, slack_context: Context
) -> None:
    """The folded false positive carries *Mute F401 here*: an admin's press redraws that
    finding in place, folded, saying the rule is muted; the rule is muted on the record."""
    config = slack_context.config.model_dump()
    config["access"]["admins"] = ["slack:U0ADMIN"]
    slack_context.config = Config.model_validate(config)
    review = await answered(slack, "review demo", "t-1")
    false_positive = action_id(review, "False positive")
    finding_id = int(false_positive.split(":")[1])
    await slack.post(slack.payloads.action_body(review, false_positive, action_ts="18.1"))
    await slack.settled()
    marked = slack.fake.ok_calls("chat.update")[-1].args["blocks"]
    mute = next(
        e["action_id"]
        for b in marked
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == "Mute F401 here"
    )
    assert mute == f"mu:{finding_id}"

    await slack.post(slack.payloads.action_body(marked, mute, action_ts="18.2", user="U0ADMIN"))
    await slack.settled()
    muted = slack.fake.ok_calls("chat.update")[-1].args["blocks"]
    assert "rule muted in this repository by " in text_of(muted)
    assert "Undo false positive" not in text_of(muted)
    with Session(slack_context.engine) as session:
        (row,) = session.exec(select(RuleMute)).all()
    assert (row.repo, row.rule, row.muted_by) == ("demo", "F401", "slack:U0ADMIN")
