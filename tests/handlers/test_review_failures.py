"""A review that fails says what stands: the last review of the repository, with the
command that lists it, in the answer to /review and in the scheduled job's post."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from handlers.access import Caller
from handlers.catalog import build_router
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from tests.standins.model_server import ModelServer, Scripted
from tests.support.context import jobs_context
from tests.support.git_repo import Repo
from tests.support.reviews import llm_config

ALICE = Caller("slack", "U0ALICE", "C1", "alice", command_prefix="/opsdesk ")


def test_a_failed_review_says_the_last_one_still_stands(
    engine: Engine, git_repo: Repo, tmp_path: Path, model_server: ModelServer
) -> None:
    first = git_repo.commit("one", **{"app.py": "x = 1\n"})
    config = llm_config(git_repo, model_server).model_copy(deep=True)
    config.access.viewers.append("slack:U0ALICE")
    # The nightly job, run by hand below.
    config.repos[0] = config.repos[0].model_copy(update={"schedule": "0 2 * * *"})
    context = jobs_context(engine, config, tmp_path)
    router = build_router(context)
    model_server.script.append(Scripted(content='{"findings": []}'))
    assert router.handle(ALICE, "/review demo").status == "ok"

    git_repo.commit("two", **{"app.py": "x = eval(input())\n"})
    model_server.script.append(Scripted(content="Looks fine to me."))
    failed = router.handle(ALICE, "/review demo").blocks[0].text
    assert "Review of demo failed: model answered with no JSON" in failed
    assert f"The last review (of {first[:7]}) still stands: /opsdesk findings demo" in failed

    model_server.script.append(Scripted(content="Still fine."))
    spec = find_job(context.config, "review:demo")
    assert spec is not None
    run = run_job(context, spec, "schedule")
    assert run.status == "failed" and run.error is not None
    assert f"The last review (of {first[:7]}) still stands: /findings demo" in run.error
