"""A false positive stays gone on every path: fresh, cached and full reviews,
/findings and the digest; undo brings it back. Counts agree with what is listed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from tests.support.feedback import (
    ADMIN,
    DANA,
    LEE,
    dana_marks_a_false_positive,
    dana_reviews_two_unused,
    feedback_rows,
    finding_counts,
    listed_findings,
    payload,
)
from tests.support.git_repo import Repo


def test_false_positive_stays_gone_in_cached_and_full_reviews_until_undone(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    router, first = dana_reviews_two_unused(engine, git_repo, tmp_path)
    assert first.status == "ok", first
    shown = listed_findings(first)
    assert len(shown) == 2 and finding_counts(first) == {
        "new": 2, "open": 0, "fixed": 0, "suppressed": 0,
    }  # fmt: skip
    marked = router.press(DANA, payload(first, shown[0], "False positive"))
    assert marked.status == "ok", marked
    assert "false positive, marked by Dana" in marked.blocks[0].text
    assert marked.blocks[0].key == shown[0]

    cached = router.handle(DANA, "/review demo")
    assert listed_findings(cached) == []  # nothing changed: one line, no finding again
    assert finding_counts(cached)["suppressed"] == 1
    assert cached.blocks[0].text.endswith(" — 1 open: /findings demo · 1 marked false positive")
    full = router.handle(DANA, "/review demo full")  # made again: still nothing new
    assert listed_findings(full) == [] and finding_counts(full)["suppressed"] == 1
    assert finding_counts(full)["open"] == len(
        listed_findings(router.handle(DANA, "/findings demo"))
    )

    router.press(LEE, payload(first, shown[1], "Helpful"))
    open_listing = router.handle(DANA, "/findings demo")
    assert listed_findings(open_listing) == [shown[1]]
    assert "👍 Helpful — marked by Lee" in open_listing.blocks[0].text
    suppressed = router.handle(DANA, "/findings demo suppressed")
    assert listed_findings(suppressed) == [shown[0]]
    assert "marked by Dana" in suppressed.blocks[0].text
    undo = payload(suppressed, shown[0], "Undo false positive")

    refused = router.press(LEE, undo)  # neither admin nor the one who marked it
    assert refused.status == "refused" and "nothing was changed" in refused.blocks[0].text
    undone = router.press(DANA, undo)
    assert undone.status == "ok" and "undone by Dana" in undone.note
    back = router.handle(DANA, "/findings demo")
    assert sorted(listed_findings(back)) == sorted(shown)
    assert finding_counts(router.handle(DANA, "/review demo"))["suppressed"] == 0
    lee_marked = next(b for b in back.blocks if b.key == shown[1])
    assert "👍 Helpful — marked by Lee" in lee_marked.text
    assert [verdict for _, _, verdict in feedback_rows(engine)] == ["helpful"]


def test_an_admin_undoes_anyones_false_positive(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    router, first = dana_reviews_two_unused(engine, git_repo, tmp_path)
    key = dana_marks_a_false_positive(router, first)
    listing = router.handle(ADMIN, "/findings demo suppressed")
    undone = router.press(ADMIN, payload(listing, key, "Undo false positive"))
    assert undone.status == "ok" and "undone by Ada" in undone.note
    assert key in listed_findings(router.handle(ADMIN, "/findings demo"))


def test_a_fresh_review_after_a_new_commit_keeps_the_false_positive_hidden(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    router, first = dana_reviews_two_unused(engine, git_repo, tmp_path)
    key = dana_marks_a_false_positive(router, first)
    git_repo.commit("another file", **{"b.py": "import json\n"})
    fresh = router.handle(DANA, "/review demo")
    assert "cached" not in fresh.note
    assert key not in listed_findings(fresh)
    counts = finding_counts(fresh)
    assert counts["suppressed"] == 1
    # The news is the new finding; the one still open is counted, listed by /findings.
    assert counts["new"] == len(listed_findings(fresh)) == 1 and counts["open"] == 1
