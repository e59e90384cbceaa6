"""A scheduled review's post gives its chat buttons that count once the outbox has
delivered it there (the real sender, Slack's deliverer, the Slack stand-in), and not
before: a press in a chat the post never reached is refused, whatever it claims."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.runtime import outbox_sender
from bot.slack import web_client
from bot.slack.deliver import SlackDeliverer
from handlers.access import Caller
from handlers.catalog import build_router
from jobs.config.schema import Config
from jobs.context import Context
from jobs.core.reply import Reply
from jobs.outbox.delivery import OutboxSender
from jobs.review.feedback import finding_ids_in
from jobs.running.runner import run_batch, run_job
from jobs.runs.specs import find_job
from storage.models import Feedback, FindingPost, OutboxPost
from tests.standins.slack_api import BOT_TOKEN, SlackApi
from tests.support.context import jobs_context
from tests.support.git_repo import Repo

DANA_IN_C1 = Caller("slack", "U1", "C1", "dana")
KIM_IN_C2 = Caller("slack", "U2", "C2", "kim")


def demo_config(git_repo: Repo, **repo: object) -> Config:
    """Repository "demo" reviewed with pyflakes, posting to slack:C1; C1 and C2 let in."""
    demo = {"name": "demo", "path": str(git_repo.path), "post_to": ["slack:C1"], **repo}
    return Config.model_validate(
        {
            "repos": [demo],
            "batches": [{"name": "nightly", "schedule": "0 2 * * *"}],
            "reviewer": {"lint": {"select": ["F"]}},
            "access": {"chats": ["slack:C1", "slack:C2"]},
        }
    )


def slack_outbox(slack_api: SlackApi, context: Context) -> OutboxSender:
    """The sender `opsdesk run` builds, with Slack's deliverer against the stand-in."""
    client = web_client(BOT_TOKEN, slack_api.base_url + "api/", retry_rate_limits=False)
    return outbox_sender(context, {"slack": SlackDeliverer(client)})


def shown_chats(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [post.chat for post in session.exec(select(FindingPost))]


async def test_a_review_posts_buttons_that_count_only_once_delivered_and_only_there(
    engine: Engine, git_repo: Repo, slack_api: SlackApi
) -> None:
    git_repo.commit("start", **{"app.py": "import os\n"})
    context = jobs_context(engine, demo_config(git_repo, schedule="0 2 * * *"))
    spec = find_job(context.config, "review:demo")
    assert spec is not None
    run_job(context, spec, "schedule")
    with Session(engine) as session:
        post = session.exec(select(OutboxPost)).one()
    [finding_id] = finding_ids_in(Reply.model_validate_json(post.reply_json))
    router = build_router(context)
    # Made and waiting in the outbox, not yet in C1: its buttons count nowhere.
    assert shown_chats(engine) == []
    assert router.press(DANA_IN_C1, f"fb:{finding_id}:fp").status == "refused"

    assert await slack_outbox(slack_api, context).send_due() == 1
    [message] = slack_api.ok_calls("chat.postMessage")
    assert message.args["channel"] == "C1"
    assert shown_chats(engine) == ["slack:C1"]
    assert router.press(KIM_IN_C2, f"fb:{finding_id}:fp").status == "refused"
    there = router.press(DANA_IN_C1, f"fb:{finding_id}:fp")
    assert there.status == "ok" and "marked by dana" in there.blocks[0].text
    with Session(engine) as session:
        assert [(f.finding_id, f.user) for f in session.exec(select(Feedback))] == [
            (finding_id, "slack:U1")
        ]


async def test_a_batch_members_review_that_is_never_posted_shows_no_buttons(
    engine: Engine, git_repo: Repo, slack_api: SlackApi
) -> None:
    git_repo.commit("start", **{"app.py": "import os\n"})
    context = jobs_context(engine, demo_config(git_repo, batch="nightly"))
    result = run_batch(context, "nightly")
    [member] = result.runs
    assert member.status == "ok" and member.review_id is not None
    await slack_outbox(slack_api, context).send_due()  # the batch's own post, no buttons
    [message] = slack_api.ok_calls("chat.postMessage")
    assert message.args["channel"] == "C1"
    assert shown_chats(engine) == []
