"""A branch review stored apart from the repository's own history.

A branch review's row has its own name (`branch:<repo>`), so the repository's chain of
reviews — its delta base, its open findings, /findings, the digest — never sees it. Its
findings are the repository's: the row of the same finding (same fingerprint) when
there is one, so feedback on a branch finding is feedback on that finding wherever it
shows; else a row in the state `branch`, which no listing of open findings counts until
a review of the repository reports it (it is then that same row, opened).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, fields

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import col
from sqlmodel import select as sm_select

from jobs.review.finding import Finding as ReportedFinding
from jobs.review.history import REVIEW_FINDINGS, load_review
from jobs.review.store import ReviewDraft
from jobs.review.stored import BRANCH_PREFIX, StoredReview
from storage.db import session_scope
from storage.models import Finding, Review

ONLY_ON_A_BRANCH = "branch"  # findings.status of a finding no review of the repository made


def branch_repo(repo: str) -> str:
    """The name branch reviews of `repo` are stored under (reviews.repo)."""
    return f"{BRANCH_PREFIX}{repo}"


def branch_cache_fingerprint(reviewer_fingerprint: str, merge_base: str) -> str:
    """The cache key's reviewer part for a branch: the reviewer and the merge base, so
    (repository, head, merge base, reviewer) is the key."""
    return hashlib.sha256(f"{reviewer_fingerprint}\0{merge_base}".encode()).hexdigest()


@dataclass(frozen=True)
class Compared:
    """One finding of the branch and its state: new (at the head, not at the merge
    base) or fixed (at the merge base, not at the head)."""

    finding: ReportedFinding
    fingerprint: str
    state: str  # new | fixed


_DRAFT_COLUMNS = tuple(
    f.name for f in fields(ReviewDraft) if f.name not in ("skipped_files", "notes")
)


def save_branch_review(
    engine: Engine, repo: str, draft: ReviewDraft, compared: Sequence[Compared]
) -> StoredReview:
    """Store the review (draft.repo is branch_repo(repo)) and its findings in one
    transaction."""
    with session_scope(engine) as session:
        columns = {name: getattr(draft, name) for name in _DRAFT_COLUMNS}
        columns["skipped_files"] = json.dumps(
            [{"path": s.path, "reason": s.reason} for s in draft.skipped_files]
        )
        columns["notes"] = json.dumps(list(draft.notes))
        review = Review(**columns)
        session.add(review)
        session.flush()
        wanted = [c.fingerprint for c in compared]
        known: dict[str, Finding] = {}
        for start in range(0, len(wanted), 500):
            for row in session.exec(
                sm_select(Finding).where(
                    Finding.repo == repo, col(Finding.fingerprint).in_(wanted[start : start + 500])
                )
            ):
                known[row.fingerprint] = row
        rows: list[tuple[Finding, Compared]] = []
        for item in compared:
            existing = known.get(item.fingerprint)
            row = (
                existing
                if existing is not None
                else Finding(
                    repo=repo,
                    fingerprint=item.fingerprint,
                    status=ONLY_ON_A_BRANCH,
                    first_review_id=review.id,
                    created_at=draft.created_at,
                    updated_at=draft.created_at,
                    **item.finding.model_dump(),
                )
            )
            session.add(row)
            rows.append((row, item))
        session.flush()
        if rows:
            session.execute(
                insert(REVIEW_FINDINGS),
                [
                    {
                        "review_id": review.id,
                        "finding_id": row.id,
                        "state": item.state,
                        "line": item.finding.line,
                        "cell": item.finding.cell,
                        "path": None if row.path == item.finding.path else item.finding.path,
                    }
                    for row, item in rows
                ],
            )
        review_id = review.id
    assert review_id is not None
    stored = load_review(engine, review_id)
    assert stored is not None
    return stored
