"""A repository's findings are those of the review of its current HEAD.

Every review made writes the repository's findings (store.py): new and still open
ones open, the others fixed. A cache hit replays a stored review without writing, so
after a history rewind (a force-push or reset back to a commit reviewed before) or a
reviewer configuration back in use, /findings, the digest and /metrics would still
show the later review's findings: files that no longer exist, findings that were not
there. `make_current` writes them back as the replayed review has them: its new and
open findings open again at the lines (and paths, for a file renamed since) it saw,
every other open finding of the same kind of reviewer (linters, or the model) fixed
by it. A few statements, each a no-op on rows already right.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection, Engine

from jobs.review.history import FINDINGS, REVIEW_FINDINGS
from jobs.review.stored import StoredReview

OPEN_STATES = ("new", "open")


def make_current(engine: Engine, review: StoredReview, now: datetime) -> None:
    """The repository's findings become `review`'s, as when it was made."""
    review_id = review.id
    listed = REVIEW_FINDINGS.c.review_id == review_id
    where_it_stood = REVIEW_FINDINGS.c.finding_id == FINDINGS.c.id
    not_its = or_(FINDINGS.c.last_review_id.is_(None), FINDINGS.c.last_review_id != review_id)
    model = FINDINGS.c.source.like("llm:%")
    same_reviewer = model if review.row["reviewer_kind"] == "llm" else ~model
    with engine.begin() as connection:
        connection.execute(
            update(FINDINGS)
            .where(
                FINDINGS.c.id.in_(
                    select(REVIEW_FINDINGS.c.finding_id).where(
                        listed, REVIEW_FINDINGS.c.state.in_(OPEN_STATES)
                    )
                ),
                or_(FINDINGS.c.status != "open", not_its),
            )
            .values(
                status="open",
                fixed_review_id=None,
                last_review_id=review_id,
                line=select(REVIEW_FINDINGS.c.line).where(listed, where_it_stood).scalar_subquery(),
                cell=select(REVIEW_FINDINGS.c.cell).where(listed, where_it_stood).scalar_subquery(),
                updated_at=now,
            )
        )
        for finding_id, then, now_path in connection.execute(
            select(REVIEW_FINDINGS.c.finding_id, REVIEW_FINDINGS.c.path, FINDINGS.c.path)
            .join(FINDINGS, where_it_stood)
            .where(
                listed,
                REVIEW_FINDINGS.c.state.in_(OPEN_STATES),
                REVIEW_FINDINGS.c.path.is_not(None),
            )
        ).all():
            _move_back(connection, finding_id, then, now_path)
        connection.execute(
            update(FINDINGS)
            .where(
                FINDINGS.c.repo == review.row["repo"],
                FINDINGS.c.status == "open",
                same_reviewer,
                not_its,
            )
            .values(status="fixed", fixed_review_id=review_id, updated_at=now)
        )


def _move_back(connection: Connection, finding_id: int, then: str, now_path: str) -> None:
    """A finding whose file was renamed after the review goes back to the path it had
    then; the reviews that listed it at the later path keep saying so."""
    of_it = REVIEW_FINDINGS.c.finding_id == finding_id
    connection.execute(
        update(REVIEW_FINDINGS).where(of_it, REVIEW_FINDINGS.c.path.is_(None)).values(path=now_path)
    )
    connection.execute(
        update(REVIEW_FINDINGS).where(of_it, REVIEW_FINDINGS.c.path == then).values(path=None)
    )
    connection.execute(update(FINDINGS).where(FINDINGS.c.id == finding_id).values(path=then))
