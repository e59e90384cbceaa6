"""A scheduled review runs through the job runner: one run row per fire, the cache
hit the second time, the review reply posted through the outbox."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.review.history import served_review_id
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


def test_matching_branches_are_reviewed_on_schedule_and_posted_once_per_head(
    engine: Engine, git_repo: Repo
) -> None:
    """review_branches = ["feature/*"]: each night's run reviews the matching branches
    beside the repository and posts what each adds, once per head: an unchanged branch
    posts nothing again, a push posts once more; other branches are left alone."""
    git_repo.commit("start", **{"app.py": "import os\n\nprint('hi')\n"})
    for branch, file in (("feature/a", "a.py"), ("feature/b", "b.py"), ("other", "c.py")):
        git_repo.git("checkout", "-q", "-b", branch, "main")
        git_repo.commit(branch, **{file: "import json\n"})
    git_repo.git("checkout", "-q", "main")
    config = scheduled_demo(git_repo, repos=[])
    demo = scheduled_demo(git_repo).repos[0].model_copy(update={"review_branches": ["feature/*"]})
    config = config.model_copy(update={"repos": [demo]})
    context = jobs_context(engine, config)
    spec = find_job(config, "review:demo")
    assert spec is not None

    def posted_titles() -> list[str]:
        with Session(engine) as session:
            posts = session.exec(select(OutboxPost).order_by(col(OutboxPost.id))).all()
        return [Reply.model_validate_json(p.reply_json).title for p in posts]

    first = run_job(context, spec, "schedule")
    assert first.status == "ok"
    titles = posted_titles()  # the repository's review first, then its branches
    assert titles[0].startswith("demo: first review — ")
    assert [t.split(":")[0] for t in titles[1:]] == [
        "Review demo feature/a",
        "Review demo feature/b",
    ]
    assert all(t.endswith("(1 commit on HEAD)") for t in titles[1:]), titles
    # The repository's findings stay the repository's: its served review is main's.
    assert served_review_id(engine, "demo") == first.review_id

    assert run_job(context, spec, "schedule").status == "cached"
    assert len(posted_titles()) == 3 + 1  # the night without news; no branch again

    git_repo.git("checkout", "-q", "feature/b")
    git_repo.commit("more on b", **{"b2.py": "import re\n"})
    git_repo.git("checkout", "-q", "main")
    run_job(context, spec, "schedule")
    later = posted_titles()[4:]  # main's night without news (no title), b's new head
    assert later[0] == "" and [t.split(":")[0] for t in later[1:]] == ["Review demo feature/b"]
    assert later[1].endswith("(2 commits on HEAD)")
    # Not posted (`/run` answered in the chat, or post=False): no branch post either.
    git_repo.git("checkout", "-q", "feature/a")
    git_repo.commit("more on a", **{"a2.py": "import re\n"})
    git_repo.git("checkout", "-q", "main")
    run_job(context, spec, "schedule", post=False)
    assert len(posted_titles()) == 6
