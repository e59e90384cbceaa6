"""Two real `opsdesk run` replicas on PostgreSQL review one repository on a schedule,
while `opsdesk run-job` asks for the same review from a third process: never two
reviews of it at once, one review row for its commit, and every later request for
that commit answered with the first's review."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest
from sqlmodel import Session, select

from jobs.runs import records as runs
from storage import migrate
from storage.db import make_engine
from storage.models import Review
from tests.jobs.running.test_replicas import replica_config
from tests.support.cli import opsdesk_with_config
from tests.support.git_repo import Repo
from tests.support.processes import first_line, opsdesk_processes

pytestmark = pytest.mark.postgres

JOB = "review:demo"


def test_two_replicas_never_review_one_repository_twice_at_once(
    pg_url: str, tmp_path: Path, git_repo: Repo
) -> None:
    head = git_repo.commit("code", **{"app.py": "import os\n\n\ndef f(x):\n    return x == None\n"})
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    repos = (
        f'[[repos]]\nname = "demo"\npath = "{git_repo.path}"\nschedule = "every 1s"\n'
        'reviewer = "lint"\npost_to = ["log:"]\n[reviewer.lint]\nselect = ["F", "E"]\n'
    )
    configs = [replica_config(tmp_path, name, pg_url, repos) for name in ("r1", "r2")]
    with ThreadPoolExecutor(2) as pool:
        # Two requests by hand at once, while the replicas start and fire their own.
        by_hand = [pool.submit(opsdesk_with_config, c, "run-job", JOB) for c in configs]
        with opsdesk_processes(*configs) as replicas:
            watched = [(p, 0) for p in replicas]
            first_line(rf"job {JOB} run \d+: (ok|cached)", watched)
            marks = [(p, p.mark()) for p in replicas]
            first_line(rf"job {JOB} run \d+: (ok|cached)", marks)  # a later fire
            done = [request.result() for request in by_hand]
    rows = [r for r in runs.runs_of(engine, JOB) if r.status not in ("missed", "running")]
    with Session(engine) as session:
        reviews = list(session.exec(select(Review).where(Review.repo == "demo")).all())
    engine.dispose()

    assert [d.returncode for d in done] == [0, 0], [d.stderr for d in done]
    assert len(reviews) == 1 and reviews[0].commit_sha == head
    assert sum(r.trigger == "manual" for r in rows) == 2 and len(rows) >= 4
    # One run reviewed the commit; every other, by hand or fired, got its review.
    assert sorted(r.status for r in rows) == ["cached"] * (len(rows) - 1) + ["ok"]
    assert {r.review_id for r in rows} == {reviews[0].id}
    # Fires of the job never overlap, whichever replica took them (runs by hand wait
    # for the repository's lock inside their run).
    spans = sorted((r.started_at, r.finished_at) for r in rows if r.trigger == "schedule")
    for (_, ended), (began, _) in pairwise(spans):
        assert ended is not None and ended <= began  # one review of it at a time
