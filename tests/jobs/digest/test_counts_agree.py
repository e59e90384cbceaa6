"""One count, one meaning: after a scripted week of reviews (the clock travels a day at
a time) with false positives, an undo and a renamed file, the review, `/findings`, the
digest's JSON (as `/api/digest` serves it) and `/metrics` give the same numbers."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest
from sqlalchemy.engine import Engine

from bot.operator.metrics import OpsdeskCollector, metrics_registry
from handlers.catalog import build_router
from handlers.router import Router
from jobs.digest.figures import Digest
from jobs.digest.job import build_digest
from jobs.review.result import ReviewResult
from jobs.review.run_record import recorded_review
from tests.bot.operator.test_metrics import parse, value
from tests.support.clock import TravelClock
from tests.support.context import jobs_context
from tests.support.feedback import DANA, config_for, listed_findings, payload
from tests.support.git_repo import Repo


def findings_listed(router: Router, *args: str) -> int:
    reply = router.handle(DANA, " ".join(("/findings", "demo", *args)))
    return len([b for b in reply.blocks if b.key and b.key.startswith("finding:")])


def press(router: Router, label: str) -> None:
    """Dana presses `label` on the finding in app.py that /findings lists first."""
    reply = router.handle(DANA, "/findings demo")
    key = listed_findings(reply)[0]
    router.press(DANA, payload(reply, key, label))


def metrics(engine: Engine, router: Router) -> dict[str, float | None]:
    collector = OpsdeskCollector(router.context, lambda: None)
    samples = parse(generate_latest(metrics_registry(collector)).decode())
    return {
        "open": value(samples, "opsdesk_findings_open", repo="demo"),
        "suppressed": value(samples, "opsdesk_findings_suppressed", repo="demo"),
    }


def test_a_scripted_week_gives_the_same_numbers_everywhere(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    clock = TravelClock()
    context = jobs_context(engine, config_for(git_repo), tmp_path / "data", clock=clock)
    router = build_router(context)

    def review() -> ReviewResult:
        return recorded_review(context, "demo")

    # Monday: three unused imports in two files.
    git_repo.commit("start", **{"app.py": "import os\nimport sys\n", "lib.py": "import json\n"})
    monday = review()
    assert monday.counts == {"new": 3, "open": 0, "fixed": 0, "suppressed": 0, "muted": 0}
    # Tuesday: one marked false positive; a fix.
    clock.advance(days=1)
    press(router, "False positive")
    git_repo.commit("use sys", **{"app.py": "import os\nimport sys\nprint(sys.argv)\n"})
    review()
    # Wednesday: another marked false positive, then taken back.
    clock.advance(days=1)
    press(router, "False positive")
    suppressed = router.handle(DANA, "/findings demo suppressed")
    undo = next(k for k in listed_findings(suppressed) if k != listed_findings(suppressed)[0])
    router.press(DANA, payload(suppressed, undo, "Undo false positive"))
    # Thursday: lib.py renamed; Friday: a new finding; the weekend: the same HEAD again.
    clock.advance(days=1)
    git_repo.git("mv", "lib.py", "util.py")
    git_repo.commit("rename lib to util")
    review()
    clock.advance(days=1)
    git_repo.commit("more", **{"tool.py": "import re\n"})
    review()
    clock.advance(days=1)
    review()
    clock.advance(days=1)
    last = review()

    digest: Digest = build_digest(context, "week", clock())
    as_served = Digest.model_validate_json(digest.model_dump_json())  # /api/digest's JSON
    reviews = as_served.reviews
    (repo,) = reviews.repos
    exported = metrics(engine, router)
    open_now = last.counts["new"] + last.counts["open"]

    assert open_now == findings_listed(router) == reviews.findings_open == repo.open
    # os and json less the one false positive that stands, and re.
    assert open_now == exported["open"] == 2
    assert last.counts["suppressed"] == findings_listed(router, "suppressed")
    assert last.counts["suppressed"] == reviews.suppressed == repo.suppressed
    assert last.counts["suppressed"] == exported["suppressed"] == 1
    # Marked once and left, once and undone: one false positive, counted once however
    # many reviews listed it.
    assert reviews.marked_false_positive == repo.marked_false_positive == 1
    assert reviews.findings_fixed == 1
