"""A review's findings and their buttons at the router: each finding carries its own
four buttons, and a press answers with that finding alone, marked by whoever pressed,
for the adapter to redraw in place; a button for admins refuses a viewer."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import Engine

from handlers.access import Role
from handlers.router import Action, Request
from jobs.core.reply import Reply
from jobs.review.feedback import mark_shown
from tests.support.feedback import DANA, config_for, feedback_rows, listed_findings, router_for
from tests.support.git_repo import Repo

VERDICTS = {"Helpful": "h", "Not helpful": "n", "False positive": "fp", "Resolved": "r"}


def test_each_of_25_findings_has_its_buttons_and_a_press_answers_with_that_finding_alone(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("25 unused imports", **{f"m{n:02d}.py": "import os\n" for n in range(25)})
    config = config_for(git_repo, reviewer={"lint": {"select": ["F"]}, "max_findings_shown": 25})
    router = router_for(engine, config, tmp_path)
    review = router.handle(DANA, "/review demo")
    keys = listed_findings(review)
    assert len(keys) == 25
    ids = [int(key.removeprefix("finding:")) for key in keys]
    mark_shown(engine, "telegram:-100", ids)  # as delivering the reply to Dana's chat does
    for key, finding_id in zip(keys, ids, strict=True):
        block = next(b for b in review.blocks if b.key == key)
        assert "imported but unused" in block.text
        # The four buttons of this finding, and only of this finding.
        assert {b.payload for b in block.buttons} == {
            f"fb:{finding_id}:{code}" for code in VERDICTS.values()
        }
        pressed = router.press(DANA, f"fb:{finding_id}:h")
        assert pressed.status == "ok", pressed
        # The finding, then the counts of the review it was in, both redrawn in place.
        answer, counts = pressed.blocks
        assert counts.key is not None and counts.key.startswith("counts:")
        assert answer.key == key
        assert answer.text.endswith("👍 Helpful — marked by Dana")
        assert answer.text.removesuffix("\n👍 Helpful — marked by Dana") == block.text
        # Verdicts are each person's: no button shows a tick for everyone.
        assert [b.label for b in answer.buttons] == list(VERDICTS)
    assert sorted(row[0] for row in feedback_rows(engine)) == sorted(ids)
    assert {row[1:] for row in feedback_rows(engine)} == {("telegram:42", "helpful")}


def test_a_viewer_pressing_an_admin_button_is_refused_and_nothing_runs(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    router = router_for(engine, config_for(git_repo), tmp_path)
    ran: list[str] = []

    def pause(request: Request) -> Reply:
        ran.append(request.caller.principal)
        return Reply.text("paused")

    router.actions["pause"] = Action("pause", pause, Role.ADMIN)
    refused = router.press(DANA, "pause:nightly")
    assert refused.status == "refused" and refused.private
    assert re.search(r"\badmins\b", " ".join(b.text for b in refused.blocks))
    assert ran == []


def test_feedback_opens_a_findings_verdicts_and_records_nothing(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    """Where a keyboard is short of room a finding shows one *Feedback* button; its press
    answers with the finding and its four verdicts (refused, like every button, where
    the finding was not shown)."""
    git_repo.commit("an unused import", **{"app.py": "import os\n"})
    router = router_for(engine, config_for(git_repo), tmp_path)
    review = router.handle(DANA, "/review demo")
    [key] = listed_findings(review)
    finding_id = int(key.removeprefix("finding:"))
    [block] = [b for b in review.blocks if b.key == key]
    assert block.opener is not None and block.opener.payload == f"fb:{finding_id}:v"
    opened = router.press(DANA, f"fb:{finding_id}:v")
    assert opened.status == "ok"
    [answer] = opened.blocks
    assert answer.key == key and [b.label for b in answer.buttons] == list(VERDICTS)
    assert feedback_rows(engine) == []
