"""The digest counts suppression as it stands now, derived from feedback rows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from jobs.digest.queries import review_totals
from storage.models import utcnow
from tests.support.feedback import dana_marks_a_false_positive, dana_reviews_two_unused
from tests.support.git_repo import Repo


def test_a_false_positive_marked_after_the_review_is_counted_suppressed_in_the_digest(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    router, first = dana_reviews_two_unused(engine, git_repo, tmp_path)
    start, end = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)
    with engine.connect() as connection:
        before = review_totals(connection, start, end)
    assert (before.findings_new, before.findings_open, before.suppressed) == (2, 2, 0)
    dana_marks_a_false_positive(router, first)
    with engine.connect() as connection:
        after = review_totals(connection, start, end)
    assert (after.findings_new, after.findings_open, after.suppressed) == (1, 1, 1)
