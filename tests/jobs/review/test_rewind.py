"""What /findings and the digest list is the open set of the review of the repository's
current HEAD, after any rewind, cache hit or reset: a force-push back to a reviewed
commit is a cache hit, and the repository's findings become that review's again."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from bot.operator.metrics import OpsdeskCollector, metrics_registry
from handlers.access import CONSOLE_CALLER
from handlers.catalog import build_router
from jobs.config.schema import Config
from jobs.context import Context
from jobs.digest.queries import review_totals
from jobs.review.history import open_findings
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from tests.standins.model_server import ModelServer
from tests.support.context import jobs_context
from tests.support.git_repo import Repo
from tests.support.oracles import Key, ruff_oracle
from tests.support.reviews import Reviews, config_for, first_added_lines, llm_config, open_set


def listed(engine: Engine) -> Counter[Key]:
    """What /findings lists for the repository."""
    return Counter((f.path, f.line, f.category, f.message) for f in open_findings(engine, "demo"))


def digest_open(engine: Engine) -> int:
    now = datetime.now(UTC)
    with engine.connect() as connection:
        return review_totals(
            connection, now - timedelta(days=1), now + timedelta(days=1)
        ).findings_open


def test_a_rewind_to_a_reviewed_commit_lists_that_commits_findings(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    first = git_repo.commit("a", **{"app.py": "import os\n\n\nx = 1\n"})
    at_first = repo_lint()
    truth_at_first = ruff_oracle(git_repo, tmp_path)
    # Later: a new file with findings, and lines moved above the old one.
    later = git_repo.commit(
        "b", **{"app.py": "import sys\nimport os\n\n\nx = 1\n", "gone_later.py": "import re\n"}
    )
    at_later = repo_lint()
    assert listed(engine) == open_set(engine, at_later) == ruff_oracle(git_repo, tmp_path)
    assert "gone_later.py" in {f.path for f in at_later.shown}

    git_repo.git("reset", "-q", "--hard", first)  # the force-push back
    rewound = repo_lint()
    assert rewound.cache_hit and rewound.review_id == at_first.review_id
    assert listed(engine) == open_set(engine, rewound) == truth_at_first
    assert {f.path for f in open_findings(engine, "demo")} == {"app.py"}  # no gone_later.py
    assert digest_open(engine) == len(at_first.shown)
    assert repo_lint().cache_hit and listed(engine) == truth_at_first

    git_repo.git("reset", "-q", "--hard", later)  # and forward again
    forward = repo_lint()
    assert forward.cache_hit and forward.review_id == at_later.review_id
    assert listed(engine) == open_set(engine, forward) == ruff_oracle(git_repo, tmp_path)
    assert digest_open(engine) == len(at_later.shown)
    # The rows are the same rows throughout: feedback on them stays.
    assert {f.id for f in open_findings(engine, "demo")} == {f.id for f in at_later.shown}

    git_repo.git("reset", "-q", "--hard", first)
    repo_lint()
    git_repo.commit("c on the rewound history", **{"other.py": "import json\n"})
    after = repo_lint()
    assert not after.cache_hit
    assert listed(engine) == open_set(engine, after) == ruff_oracle(git_repo, tmp_path)


def test_a_reviewer_configuration_back_in_use_lists_its_review_again(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("base", **{"app.py": "import os\nimport sys\n\nx = os.sep == None\n"})
    wide, narrow = (Reviews(engine, config_for(git_repo, lint={"select": rules}), tmp_path)
                    for rules in (["F401", "E711"], ["E711"]))  # fmt: skip
    first = wide()
    assert {f.category for f in first.shown} == {"F401", "E711"}
    assert listed(engine) == open_set(engine, first)
    only_e711 = narrow()
    assert {f.category for f in open_findings(engine, "demo")} == {"E711"}
    assert listed(engine) == open_set(engine, only_e711)
    back = wide()  # the configuration reset to what it was: a cache hit
    assert back.cache_hit and listed(engine) == open_set(engine, back)
    assert {f.category for f in open_findings(engine, "demo")} == {"F401", "E711"}
    assert digest_open(engine) == 2


def test_a_scheduled_review_after_a_force_push_back_sets_what_findings_lists(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    first = git_repo.commit("a", **{"app.py": "import os\n"})
    config = Config.model_validate(
        {"repos": [{"name": "demo", "path": str(git_repo.path), "schedule": "0 2 * * *"}],
         "reviewer": {"lint": {"select": ["F401"]}}}
    )  # fmt: skip
    context = jobs_context(engine, config, tmp_path)
    spec = find_job(config, "review:demo")
    assert spec is not None
    assert run_job(context, spec, "schedule").status == "ok"
    git_repo.commit("b", **{"gone_later.py": "import re\n"})
    assert run_job(context, spec, "schedule").status == "ok"
    git_repo.git("reset", "-q", "--hard", first)
    rewound = run_job(context, spec, "schedule")
    assert (rewound.status, rewound.cache_hit) == ("cached", True)
    reply = build_router(context).handle(CONSOLE_CALLER, "/findings demo")
    assert reply.title == "Findings demo: 1 open"
    [block] = reply.blocks
    assert "app.py:1" in block.text and "gone_later.py" not in block.text
    assert findings_open_metric(context) == {"demo": 1.0}


def findings_open_metric(context: Context) -> dict[str, float]:
    """/metrics' opsdesk_findings_open, by repository."""
    text = generate_latest(metrics_registry(OpsdeskCollector(context, lambda: None)))
    return {
        sample.labels["repo"]: sample.value
        for family in text_string_to_metric_families(text.decode())
        if family.name == "opsdesk_findings_open"
        for sample in family.samples
    }


def test_a_rewind_past_a_rename_lists_the_findings_at_their_paths_then(
    engine: Engine, git_repo: Repo, tmp_path: Path, repo_lint: Reviews
) -> None:
    before_rename = git_repo.commit("old", **{"old.py": "import os\nimport sys\n"})
    at_first = repo_lint()
    git_repo.git("mv", "old.py", "renamed.py")
    renamed = git_repo.commit("rename")
    at_rename = repo_lint()
    assert {f.path for f in at_rename.shown} == {"renamed.py"}
    ids = {f.id for f in at_first.shown}
    assert {f.id for f in at_rename.shown} == ids  # the same rows, carried

    git_repo.git("reset", "-q", "--hard", before_rename)
    back = repo_lint()
    assert back.cache_hit
    assert listed(engine) == open_set(engine, back) == ruff_oracle(git_repo, tmp_path)
    assert {f.path for f in open_findings(engine, "demo")} == {"old.py"}

    git_repo.git("reset", "-q", "--hard", renamed)
    forward = repo_lint()
    assert forward.cache_hit
    assert listed(engine) == open_set(engine, forward) == ruff_oracle(git_repo, tmp_path)
    assert {f.id for f in open_findings(engine, "demo")} == ids

    git_repo.git("reset", "-q", "--hard", before_rename)
    repo_lint()
    git_repo.commit("on the old layout", **{"old.py": "import os\nimport sys\nimport re\n"})
    after = repo_lint()
    assert listed(engine) == open_set(engine, after) == ruff_oracle(git_repo, tmp_path)
    assert ids <= {f.id for f in after.shown}


def test_a_rewind_under_the_model_reviewer_lists_that_reviews_findings(
    engine: Engine, git_repo: Repo, tmp_path: Path, model_server: ModelServer
) -> None:
    model_server.responder = first_added_lines()
    reviews = Reviews(engine, llm_config(git_repo, model_server), tmp_path)
    first = git_repo.commit("a", **{"a.py": "x = eval(input())\n"})
    at_first = reviews()
    git_repo.commit("b", **{"b.py": "y = eval(input())\n"})
    reviews()
    assert {f.path for f in open_findings(engine, "demo")} == {"a.py", "b.py"}
    git_repo.git("reset", "-q", "--hard", first)
    calls = len(model_server.received)
    back = reviews()
    assert back.cache_hit and len(model_server.received) == calls  # no model call
    assert listed(engine) == open_set(engine, back)
    assert {f.path for f in open_findings(engine, "demo")} == {"a.py"}
    assert {f.id for f in open_findings(engine, "demo")} == {f.id for f in at_first.shown}
