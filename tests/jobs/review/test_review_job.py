"""A scheduled review runs through the job runner: one run row per fire, the cache
hit the second time, the review reply posted through the outbox."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from storage.models import JobRun, OutboxPost, Review
from tests.support.context import jobs_context
from tests.support.git_repo import Repo


def scheduled_demo(git_repo: Repo, **extra: object) -> Config:
    """Repository "demo", reviewed nightly with pyflakes, posting to slack:C1."""
    demo = {
        "name": "demo",
        "path": str(git_repo.path),
        "schedule": "0 2 * * *",
        "post_to": ["slack:C1"],
    }
    return Config.model_validate(
        {"repos": [demo], "reviewer": {"lint": {"select": ["F"]}}, **extra}
    )


def test_a_scheduled_review_is_recorded_once_then_hits_the_cache(
    engine: Engine, git_repo: Repo
) -> None:
    git_repo.commit("start", **{"app.py": "import os\n\nprint('hi')\n"})
    config = scheduled_demo(git_repo)
    context = jobs_context(engine, config)
    spec = find_job(config, "review:demo")
    assert spec is not None and spec.kind == "review"

    first = run_job(context, spec, "schedule")
    second = run_job(context, spec, "schedule")

    assert (first.status, first.cache_hit) == ("ok", False)
    assert (second.status, second.cache_hit) == ("cached", True)
    assert first.review_id is not None and first.review_id == second.review_id
    with Session(engine) as session:
        runs = session.exec(select(JobRun).order_by(col(JobRun.id))).all()
        posts = session.exec(select(OutboxPost).order_by(col(OutboxPost.id))).all()
        reviews = session.exec(select(Review)).all()
    assert [(r.job, r.kind, r.status) for r in runs] == [
        ("review:demo", "review", "ok"),
        ("review:demo", "review", "cached"),
    ]
    assert len(reviews) == 1
    assert [p.target for p in posts] == ["slack:C1", "slack:C1"]
    posted = Reply.model_validate_json(posts[0].reply_json)
    assert posted.title.startswith("demo: first review — ")
    assert any("F401" in block.text for block in posted.blocks)
    assert any(b.payload.startswith("fb:") for b in posted.all_buttons())
    # The night after, with no new commit: one line, nothing to press.
    quiet = Reply.model_validate_json(posts[1].reply_json)
    assert [b.text.split(" — ")[0] for b in quiet.blocks] == [
        f"demo: no new commits since {reviews[0].commit_sha[:7]} was reviewed"
    ]
    assert quiet.all_buttons() == []


def test_a_failing_scheduled_review_is_a_failed_run_with_the_reason(
    engine: Engine, git_repo: Repo
) -> None:
    config = Config.model_validate(
        {"repos": [{"name": "demo", "path": str(git_repo.path / "gone"), "schedule": "0 2 * * *"}]}
    )
    spec = find_job(config, "review:demo")
    assert spec is not None
    run = run_job(jobs_context(engine, config), spec, "schedule", post=False)
    assert run.status == "failed"
    assert run.error and "not a git repository" in run.error
