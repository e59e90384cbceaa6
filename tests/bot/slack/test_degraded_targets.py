"""A Slack channel whose posts fail for good shows in /health as degraded, with the
fix, until someone acts on the lost posts (`/outbox retry`), end to end: the outbox
sends through the adapter to the Web API stand-in."""

from __future__ import annotations

import json

from bot.slack import web_client
from bot.slack.deliver import SlackDeliverer
from jobs.context import Context
from jobs.core.reply import Reply
from jobs.outbox.delivery import OutboxSender, enqueue
from jobs.outbox.failed import retry_failed
from tests.bot.slack.conftest import SlackBot
from tests.standins.slack_api import BOT_TOKEN

NOWHERE = "C0NOTINVITED"


async def test_a_channel_the_bot_is_not_in_shows_degraded_with_the_fix_until_retried(
    slack: SlackBot, slack_context: Context
) -> None:
    fake = slack.fake
    engine = slack_context.engine
    deliverer = SlackDeliverer(
        web_client(BOT_TOKEN, fake.base_url + "api/", retry_rate_limits=False)
    )
    sender = OutboxSender(engine, {"slack": deliverer})
    fake.fail("chat.postMessage", "not_in_channel")
    enqueue(engine, kind="job", targets=[f"slack:{NOWHERE}"], reply=Reply.text("a"), dedupe_key="1")
    assert await sender.send_due() == 0

    await slack.post(slack.payloads.command_body("health", trigger_id="h.1"))
    await slack.settled()
    [answer] = fake.ok_calls("response")
    shown = json.dumps(answer.args["blocks"], ensure_ascii=False)
    assert f"posts to slack:{NOWHERE}: a post failed for good" in shown
    assert "not_in_channel" in shown and "invite @opsdesk to that channel" in shown
    assert "Health: degraded" in json.dumps(answer.args, ensure_ascii=False)

    fake.heal("chat.postMessage")  # the bot was invited
    enqueue(engine, kind="job", targets=[f"slack:{NOWHERE}"], reply=Reply.text("b"), dedupe_key="2")
    assert await sender.send_due() == 1
    # A later post went through; the lost one is still lost, and still shown.
    await slack.post(slack.payloads.command_body("health", trigger_id="h.2"))
    await slack.settled()
    shown = json.dumps(fake.ok_calls("response")[-1].args["blocks"], ensure_ascii=False)
    assert f"posts to slack:{NOWHERE}: a post failed for good" in shown
    assert "/outbox retry" in shown

    assert retry_failed(engine) == 1  # what an admin's /outbox retry all does
    assert await sender.send_due() == 1
    assert [m.text for m in fake.posts_of(NOWHERE)].count("a") == 1
    await slack.post(slack.payloads.command_body("health", trigger_id="h.3"))
    await slack.settled()
    assert f"posts to slack:{NOWHERE}" not in json.dumps(fake.ok_calls("response")[-1].args)
