"""Feedback end to end: who may press, a router over a real repository, and reading
what a reply lists and what the feedback rows hold."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from handlers.access import Caller
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from jobs.core.reply import Reply
from storage.models import Feedback
from tests.support.context import jobs_context
from tests.support.git_repo import Repo

DANA = Caller("telegram", "42", "-100", name="Dana")
LEE = Caller("telegram", "43", "-100", name="Lee")
ELSEWHERE = Caller("telegram", "44", "-200", name="Kim")
ADMIN = Caller("telegram", "1", "-100", name="Ada")
TWO_UNUSED = "import os\nimport sys\n"


def config_for(work: Repo, **extra: Any) -> Config:
    """Repository "demo" linted for pyflakes; Dana, Lee and Kim are viewers, Ada admin."""
    return Config.model_validate(
        {
            "repos": [{"name": "demo", "path": str(work.path)}],
            "reviewer": {"lint": {"select": ["F"]}},
            "access": {
                "admins": ["telegram:1"],
                "viewers": ["telegram:42", "telegram:43", "telegram:44"],
            },
            **extra,
        }
    )


def router_for(engine: Engine, config: Config, tmp_path: Path) -> Router:
    return build_router(jobs_context(engine, config, tmp_path / "data"))


def dana_reviews_two_unused(engine: Engine, git_repo: Repo, tmp_path: Path) -> tuple[Router, Reply]:
    """Repository "demo" committed with two unused imports and reviewed by Dana in chat:
    the router and her review reply."""
    git_repo.commit("two unused imports", **{"app.py": TWO_UNUSED})
    router = router_for(engine, config_for(git_repo), tmp_path)
    return router, router.handle(DANA, "/review demo")


def finding_counts(reply: Reply) -> dict[str, int]:
    """A review post's counts, from its small print ("3 open (1 new) · 0 fixed · 1 marked
    false positive · …"): new, open (carried over), fixed, suppressed."""
    found = re.search(
        r"(\d+) open \((\d+) new\) · (\d+) fixed · (\d+) marked false positive", reply.note
    )
    if found is None:  # a night without news: its one line says how many stay open
        line = reply.blocks[0].text
        standing = re.search(r" — (\d+) open", line)
        suppressed = re.search(r"(\d+) marked false positive", line)
        return {
            "new": 0,
            "open": int(standing[1]) if standing else 0,
            "fixed": 0,
            "suppressed": int(suppressed[1]) if suppressed else 0,
        }
    standing, new, fixed, suppressed = (int(n) for n in found.groups())
    return {"new": new, "open": standing - new, "fixed": fixed, "suppressed": suppressed}


def listed_findings(reply: Reply) -> list[str]:
    """The keys of the finding blocks a reply lists: finding:<id>."""
    return [b.key for b in reply.blocks if b.key and b.key.startswith("finding:")]


def payload(reply: Reply, key: str, label: str) -> str:
    block = next(b for b in reply.blocks if b.key == key)
    return next(b.payload for b in block.buttons if b.label.endswith(label))


def feedback_rows(engine: Engine) -> list[tuple[int, str, str]]:
    table = Feedback.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.finding_id, table.c.user, table.c.verdict).order_by(table.c.id)
        ).all()
    return [(int(a), str(b), str(c)) for a, b, c in rows]


def dana_marks_a_false_positive(router: Router, reply: Reply) -> str:
    """Dana presses "False positive" on the first finding the reply lists; its key."""
    key = listed_findings(reply)[0]
    router.press(DANA, payload(reply, key, "False positive"))
    return key
