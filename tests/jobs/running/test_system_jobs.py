"""The digest and health jobs are scheduled like any job and run through the runner."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.running.runner import run_job
from jobs.running.scheduler import JobScheduler
from jobs.runs.specs import find_job, job_specs
from storage.models import JobRun, OutboxPost
from tests.support.context import jobs_context


def config(**digest: object) -> Config:
    return Config.model_validate(
        {
            "scheduler": {"timezone": "UTC"},
            "digest": {"time": "07:30", "timezone": "Europe/Berlin", **digest},
        }
    )


def test_the_digest_runs_at_its_local_time_when_it_has_targets() -> None:
    assert job_specs(config()) == []  # nowhere to post: on demand only
    posting = {s.name: s for s in job_specs(config(post_to=["slack:C1"]))}
    assert set(posting) == {"digest", "health"}
    assert (posting["digest"].schedule, posting["digest"].timezone) == (
        "30 7 * * *",
        "Europe/Berlin",
    )
    assert {s.name for s in job_specs(config(post_to=["slack:C1"], enabled=False))} == {"health"}


def test_the_scheduler_plans_the_digest_in_its_own_time_zone(engine: Engine) -> None:
    scheduler = JobScheduler(jobs_context(engine, config(post_to=["slack:C1"])))
    assert ("job:digest", "30 7 * * *", "Europe/Berlin") in scheduler._planned()


def test_the_digest_job_posts_once_a_day_through_the_outbox(engine: Engine) -> None:
    context = jobs_context(engine, config(post_to=["slack:C1", "telegram:-100"]))
    spec = find_job(context.config, "digest")
    assert spec is not None
    first = run_job(context, spec, "schedule")
    second = run_job(context, spec, "schedule")
    assert first.status == second.status == "ok"
    with Session(engine) as session:
        posts = session.exec(select(OutboxPost).where(OutboxPost.kind == "digest")).all()
        runs = session.exec(select(JobRun).where(JobRun.job == "digest")).all()
    assert sorted(p.target for p in posts) == ["slack:C1", "telegram:-100"]
    assert len(runs) == 2
    reply = Reply.model_validate_json(posts[0].reply_json)
    assert reply.image is not None and reply.image.png.startswith(b"\x89PNG")


def test_the_health_job_runs_and_records_its_run(engine: Engine) -> None:
    context = jobs_context(engine, config(post_to=["slack:C1"]))
    spec = find_job(context.config, "health")
    assert spec is not None
    run = run_job(context, spec, "schedule")
    assert run.status == "ok", run.error
    assert run.output and "health checked" in run.output
