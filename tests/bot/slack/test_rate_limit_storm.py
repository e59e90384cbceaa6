"""A rate-limit storm delays posts, never drops them: Slack answering 429 far longer
than any attempt budget, then 5xx, and every post still lands exactly once. The waits
pass on the sender's clock (Retry-After honoured), not the wall's."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.slack import web_client
from bot.slack.deliver import SlackDeliverer
from jobs.core.reply import Reply
from jobs.outbox.delivery import OutboxSender, enqueue
from storage.models import OutboxPost
from tests.standins.slack_api import BOT_TOKEN, SlackApi
from tests.support.clock import TravelClock

CHANNEL = "C0STORM"
POSTS = 5
BUDGET = 3  # the attempt budget: the storm lasts far longer than this


async def test_a_429_storm_longer_than_the_budget_sends_every_post_once(
    slack_api: SlackApi, sqlite_engine: Engine
) -> None:
    clock = TravelClock()
    deliverer = SlackDeliverer(
        web_client(BOT_TOKEN, slack_api.base_url + "api/", retry_rate_limits=False)
    )
    sender = OutboxSender(
        sqlite_engine, {"slack": deliverer}, worker_id="storm", max_attempts=BUDGET, clock=clock
    )
    for number in range(POSTS):
        enqueue(
            sqlite_engine,
            kind="job",
            targets=[f"slack:{CHANNEL}"],
            reply=Reply.text(f"post {number}"),
            dedupe_key=f"storm:{number}",
        )
    slack_api.rate_limit("chat.postMessage", retry_after=1, times=POSTS * BUDGET * 4)
    storm_passes = 0
    while len(slack_api.posts_of(CHANNEL)) < POSTS:
        storm_passes += 1
        assert storm_passes < 200, "the storm never ended for the sender"
        if storm_passes == BUDGET * 4:
            slack_api.fail("chat.postMessage", "internal_error")  # then Slack is down
        if storm_passes == BUDGET * 8:
            slack_api.heal("chat.postMessage")
        await sender.send_due()
        wait = sender.next_due_in()
        clock.advance(seconds=wait or 0)

    texts = sorted(m.text for m in slack_api.posts_of(CHANNEL))
    assert texts == sorted(f"post {n}" for n in range(POSTS)), "each post exactly once"
    with Session(sqlite_engine) as session:
        rows = session.exec(select(OutboxPost)).all()
        assert {row.status for row in rows} == {"sent"}
        assert max(row.attempts for row in rows) > BUDGET  # the storm outlasted the budget
        assert not session.exec(select(OutboxPost).where(col(OutboxPost.status) == "failed")).all()
    rate_limited = [c for c in slack_api.calls if c.status == 429]
    assert len(rate_limited) == POSTS * BUDGET * 4


async def test_a_retry_after_longer_than_the_cap_is_waited_at_most_the_cap(
    slack_api: SlackApi, sqlite_engine: Engine
) -> None:
    clock = TravelClock()
    deliverer = SlackDeliverer(
        web_client(BOT_TOKEN, slack_api.base_url + "api/", retry_rate_limits=False)
    )
    sender = OutboxSender(sqlite_engine, {"slack": deliverer}, worker_id="cap", clock=clock)
    enqueue(
        sqlite_engine,
        kind="job",
        targets=[f"slack:{CHANNEL}"],
        reply=Reply.text("later"),
        dedupe_key="cap",
    )
    slack_api.rate_limit("chat.postMessage", retry_after=86400, times=1)
    clock.advance(seconds=1)  # the post is due
    assert await sender.send_due() == 0
    assert [c.status for c in slack_api.calls] == [429]
    assert sender.next_due_in() == 900.0
