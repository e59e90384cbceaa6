"""A finished run's post is never lost: a process that dies between writing a run's
end and queuing its post leaves it to the leader, which queues it once."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.log_deliverer import LogDeliverer
from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.outbox.delivery import OutboxSender
from jobs.running.fire_queue import interrupt_fire
from jobs.running.lost_posts import GRACE
from jobs.running.missed import MissLedger
from jobs.running.runner import run_job
from jobs.running.upkeep import LeaderUpkeep
from jobs.runs import records as runs
from jobs.runs.specs import find_job
from storage.models import OutboxPost
from tests.jobs.review.test_review_job import scheduled_demo
from tests.support.clock import TravelClock
from tests.support.context import jobs_context
from tests.support.git_repo import Repo

CONFIG = Config.model_validate(
    {
        "jobs": [
            {"name": "nightly", "command": "echo built", "post_to": ["log:"]},
            {"name": "quiet", "command": "echo nobody hears"},
        ]
    }
)


def posts(engine: Engine) -> list[OutboxPost]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxPost).order_by(col(OutboxPost.id))).all())


async def test_a_run_whose_process_died_before_its_post_is_posted_once(engine: Engine) -> None:
    clock = TravelClock()
    context = jobs_context(engine, CONFIG, clock=clock)
    upkeep = LeaderUpkeep(context, MissLedger(context))
    nightly, quiet = find_job(CONFIG, "nightly"), find_job(CONFIG, "quiet")
    assert nightly is not None and quiet is not None
    # The run's end is written by the real path; its post never queued (the crash).
    lost = run_job(context, nightly, "schedule", post=False)
    run_job(context, quiet, "schedule", post=False)
    # Closed by the leader's sweep (its replica died): run again, posted by that run.
    swept = runs.start_run(
        engine,
        job="nightly",
        kind="command",
        trigger="schedule",
        runner="gone:1",
        scheduled_at=clock(),
    )
    assert interrupt_fire(engine, "job:nightly", clock().isoformat(), "its replica died") == 1
    # Posted as usual: the leader must not post it again.
    posted = run_job(context, nightly, "schedule")
    assert lost.status == posted.status == "ok"
    assert {r.id: r.status for r in runs.runs_of(engine, "nightly")}[swept.id] == "interrupted"
    assert [p.dedupe_key for p in posts(engine)] == [f"run:{posted.id}|log:"]

    upkeep.after_heartbeat()  # within the grace, its own process may still post it
    assert len(posts(engine)) == 1

    clock.advance(GRACE * 2)
    upkeep.after_heartbeat()
    upkeep.after_heartbeat()
    assert sorted(p.dedupe_key for p in posts(engine)) == sorted(
        [f"run:{posted.id}|log:", f"run:{lost.id}|log:"]
    )
    # A new leader looks back again: the outbox keeps it one post.
    LeaderUpkeep(context, MissLedger(context)).after_heartbeat()
    assert len(posts(engine)) == 2

    sender = OutboxSender(engine, {"log": LogDeliverer()}, clock=clock)
    assert await sender.send_due() == 2
    assert await sender.send_due() == 0
    recovered = next(p for p in posts(engine) if p.dedupe_key == f"run:{lost.id}|log:")
    assert recovered.status == "sent"
    assert "nightly: ok" in recovered.reply_json and "built" in recovered.reply_json


def test_a_lost_review_post_is_the_review_its_run_would_have_posted(
    engine: Engine, git_repo: Repo
) -> None:
    """Not a line made from the run row: the review with its findings and buttons,
    read back from the review the run stored."""
    git_repo.commit("start", **{"app.py": "import os\n\nprint('hi')\n"})
    config = scheduled_demo(git_repo)
    clock = TravelClock()
    context = jobs_context(engine, config, clock=clock)
    spec = find_job(config, "review:demo")
    assert spec is not None
    lost = run_job(context, spec, "schedule", post=False)
    clock.advance(GRACE * 2)
    LeaderUpkeep(context, MissLedger(context)).after_heartbeat()

    [post] = posts(engine)
    assert post.dedupe_key == f"run:{lost.id}|slack:C1"
    recovered = Reply.model_validate_json(post.reply_json)
    assert recovered.title == lost.output  # the title of the post its run made
    assert recovered.title.startswith("demo: first review — ")
    assert any("F401" in block.text for block in recovered.blocks)
    assert any(b.payload.startswith("fb:") for b in recovered.all_buttons())
