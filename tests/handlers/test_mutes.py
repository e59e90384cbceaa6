"""A rule a team mutes stays out of every reply — a cached review, a fresh one, `full`,
a branch's, a scheduled one's post, /findings — and is counted apart in each and in the
digest and /metrics; only an admin mutes, on the record; unmute brings it back."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import generate_latest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.operator.metrics import OpsdeskCollector, metrics_registry
from handlers.catalog import build_router
from jobs.config.schema import Config
from jobs.core.reply import Reply
from jobs.digest.figures import Digest
from jobs.digest.job import build_digest
from jobs.running.runner import run_job
from jobs.runs.specs import find_job
from storage.models import OutboxPost, RuleMute
from tests.bot.operator.test_metrics import parse, value
from tests.support.clock import TravelClock
from tests.support.context import jobs_context
from tests.support.feedback import ADMIN, DANA, finding_counts, listed_findings, payload
from tests.support.git_repo import Repo

START = {"app.py": "import os\nimport sys\n\n\ndef f():\n    unused = 1\n"}  # two F401, one F841


def scheduled(git_repo: Repo) -> Config:
    demo = {"name": "demo", "path": str(git_repo.path), "schedule": "0 2 * * *",
            "post_to": ["slack:C1"]}  # fmt: skip
    return Config.model_validate(
        {
            "repos": [demo],
            "reviewer": {"lint": {"select": ["F"]}},
            "access": {"admins": ["telegram:1"], "viewers": ["telegram:42"]},
        }
    )


def rules_listed(reply: Reply) -> list[str]:
    """The rule of each finding a reply lists with buttons ("… · F401 …")."""
    return [
        re.findall(r" · (F\d+)", b.text)[0]
        for b in reply.blocks
        if b.key and b.key.startswith("finding:")
    ]


def muted_count(reply: Reply) -> int:
    found = re.search(r"(\d+) of muted rules", reply.note + " ".join(b.text for b in reply.blocks))
    return int(found[1]) if found else 0


def test_a_muted_rule_is_left_out_everywhere_counted_apart_until_unmuted(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("start", **START)
    clock = TravelClock()
    config = scheduled(git_repo)
    context = jobs_context(engine, config, tmp_path / "data", clock=clock)
    router = build_router(context)
    first = router.handle(DANA, "/review demo")
    assert sorted(rules_listed(first)) == ["F401", "F401", "F841"]

    refused = router.handle(DANA, "/mute demo F401")
    assert refused.status == "refused"
    muted = router.handle(ADMIN, "/mute demo f401")
    assert muted.status == "ok", muted
    assert muted.blocks[0].text.startswith("Rule F401 muted in demo by Ada: ")
    assert "(2 open findings now: /findings demo muted)" in muted.blocks[0].text
    with engine.connect() as connection:
        (row,) = connection.execute(select(RuleMute.__table__)).all()  # type: ignore[attr-defined]
    assert (row.repo, row.rule, row.muted_by, row.muted_by_name) == (
        "demo",
        "F401",
        "telegram:1",
        "Ada",
    )
    assert row.muted_at == clock()
    again = router.handle(ADMIN, "/mute demo F401")
    assert "is muted in demo already, by Ada on " in again.blocks[0].text

    # Cached: the same HEAD, its review replayed; F401's findings counted apart.
    cached = router.handle(DANA, "/review demo")
    assert "no new commits since" in cached.blocks[0].text
    assert cached.blocks[0].text.endswith(" — 1 open: /findings demo · 2 of muted rules")
    # Fresh (a delta adding another F401 and an F841) and full.
    clock.advance(days=1)
    git_repo.commit("more", **{"lib.py": "import re\n\n\ndef g():\n    other = 2\n"})
    fresh = router.handle(DANA, "/review demo")
    assert rules_listed(fresh) == ["F841"] and finding_counts(fresh)["new"] == 1
    assert muted_count(fresh) == 3
    full = router.handle(DANA, "/review demo full")
    assert full.status == "ok", full
    # A full review that finds what the last one did is a night without news, in one line.
    assert full.blocks[0].text.endswith(" — 2 open: /findings demo · 3 of muted rules")
    # A branch adds one of each: only its F841 is news.
    git_repo.git("checkout", "-q", "-b", "feature")
    git_repo.commit("feature", **{"new.py": "import json\n\n\ndef h():\n    third = 3\n"})
    git_repo.git("checkout", "-q", "main")
    branch = router.handle(DANA, "/review demo feature")
    assert branch.status == "ok", branch
    assert rules_listed(branch) == ["F841"] and muted_count(branch) == 1
    # Scheduled: the night's post (a commit since) lists no F401.
    clock.advance(days=1)
    git_repo.commit("night", **{"night.py": "import abc\n\n\ndef k():\n    fourth = 4\n"})
    spec = find_job(config, "review:demo")
    assert spec is not None
    assert run_job(context, spec, "schedule").status == "ok"
    with engine.connect() as connection:
        post = connection.execute(select(OutboxPost.__table__)).all()[-1]  # type: ignore[attr-defined]
    night = Reply.model_validate_json(post.reply_json)
    assert rules_listed(night) == ["F841"] and muted_count(night) == 4

    # /findings: the open ones without F401; `muted` names who muted it and when.
    listing = router.handle(DANA, "/findings demo")
    assert sorted(rules_listed(listing)) == ["F841", "F841", "F841"]
    none_open = router.handle(DANA, "/findings demo rule f401")
    assert none_open.title.endswith("none open of rule f401")
    assert none_open.blocks[0].text.endswith(
        "Rule F401 is muted here (by Ada): /findings demo muted"
    )
    listed_muted = router.handle(DANA, "/findings demo muted")
    assert listed_muted.title == "Findings demo: 4 muted"
    assert listed_muted.blocks[0].text.startswith("🔇 F401 — muted by Ada on ")
    assert listed_muted.blocks[0].text.endswith(", 4 open findings: /unmute demo F401")
    assert len(listed_muted.blocks) == 1 + 4 and listed_findings(listed_muted) == []

    # The digest, its JSON as /api/digest serves it, and /metrics count them apart.
    clock.advance(hours=1)  # the digest of the week to now, the night's review in it
    digest = Digest.model_validate_json(build_digest(context, "week", clock()).model_dump_json())
    (repo,) = digest.reviews.repos  # the branch's review is not the repository's
    assert digest.reviews.muted == repo.muted == 4
    assert digest.reviews.findings_open == repo.open == 3
    assert digest.reviews.findings_new == repo.new == 3  # three F841 first reported; F401 left out
    samples = parse(
        generate_latest(metrics_registry(OpsdeskCollector(context, lambda: None))).decode()
    )
    assert value(samples, "opsdesk_findings_muted", repo="demo") == 4
    assert value(samples, "opsdesk_findings_open", repo="demo") == 3

    assert router.handle(DANA, "/unmute demo F401").status == "refused"
    unmuted = router.handle(ADMIN, "/unmute demo F401")
    assert unmuted.blocks[0].text.startswith("Rule F401 unmuted in demo by Ada (muted by Ada on ")
    assert unmuted.blocks[0].text.endswith("its 4 open findings are reported again.")
    assert (
        sorted(rules_listed(router.handle(DANA, "/findings demo"))) == ["F401"] * 4 + ["F841"] * 3
    )
    assert router.handle(ADMIN, "/unmute demo F401").status == "error"


def test_an_admin_mutes_a_rule_from_a_false_positive_in_chat(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    """*False positive* folds the finding with *Mute F401 here*: a viewer's press is
    refused with nothing changed; an admin's in the same chat mutes the rule and the
    finding is redrawn in place, saying who muted it."""
    git_repo.commit("start", **START)
    router = build_router(jobs_context(engine, scheduled(git_repo), tmp_path / "data"))
    first = router.handle(DANA, "/review demo")
    key = next(
        k
        for k, rule in zip(listed_findings(first), rules_listed(first), strict=True)
        if rule == "F401"
    )
    folded = router.press(DANA, payload(first, key, "False positive"))
    assert [b.label for b in folded.blocks[0].buttons] == ["Undo false positive", "Mute F401 here"]

    refused = router.press(DANA, payload(folded, key, "Mute F401 here"))
    assert refused.status == "refused"
    assert router.handle(DANA, "/findings demo muted").title == "Findings demo: none muted"
    muted = router.press(ADMIN, payload(folded, key, "Mute F401 here"))
    assert muted.status == "ok", muted
    assert muted.blocks[0].key == key and muted.blocks[0].buttons == []
    assert muted.blocks[0].text.endswith(" — rule muted in this repository by Ada")
    assert muted.note.startswith("Rule F401 muted in demo by Ada: ")
    listing = router.handle(DANA, "/findings demo muted")
    assert listing.title == "Findings demo: 2 muted"  # the false positive counts once, muted
    assert router.handle(DANA, "/findings demo suppressed").title.endswith("none suppressed")
    cached = router.handle(DANA, "/review demo")
    assert cached.blocks[0].text.endswith(" — 1 open: /findings demo · 2 of muted rules")
