"""A review into storage: the review row and the findings' life over time.

Each review stores its complete picture of the repository for its reviewer chain:
every finding it reported (new or still open), every earlier finding a partial
reviewer (a model) carried over from an untouched file (open), and every earlier
finding it saw gone (fixed); also every file it did not review, with the reason
(`skipped_files`: skip rules, budget, the reviewer's own `not_reviewed`). States are the true
ones: suppression is not stored; history.py reads it all back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import delete, insert, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from jobs.review.baseline import Earlier, compare
from jobs.review.budget import SkippedFile
from jobs.review.finding import Finding as ReportedFinding
from jobs.review.history import FINDINGS, REVIEW_FINDINGS, load_review
from jobs.review.placing import Placed, assign_fingerprints, place_earlier, place_new
from jobs.review.stored import At, StoredReview
from storage.db import session_scope
from storage.models import Finding, Review, ReviewFinding


@dataclass(frozen=True)
class ReviewDraft:
    """Everything about a finished review except its findings' states."""

    repo: str
    commit_sha: str
    base_sha: str | None
    reviewer_fingerprint: str
    reviewer_kind: str
    model: str | None
    kind: str  # full | delta
    commits_covered: int
    prompt_tokens: int
    completion_tokens: int
    full_prompt_tokens: int
    duration_ms: int
    model_latency_ms: int | None
    dropped_count: int
    skipped_files: Sequence[SkippedFile]
    created_at: datetime
    reviewed_files: int = 0
    notes: Sequence[str] = ()


# The draft's fields stored as they are (skipped files and notes are stored as JSON).
_DRAFT_COLUMNS = tuple(
    draft_field.name
    for draft_field in fields(ReviewDraft)
    if draft_field.name not in ("skipped_files", "notes")
)


def save_review(
    engine: Engine,
    draft: ReviewDraft,
    reported: Sequence[ReportedFinding],
    *,
    base_review_id: int | None,
    fate: Callable[[str, int], int | None],
    renamed: Mapping[str, str] | None = None,
    moved: Callable[[str, int], int | None] | None = None,
    replace_id: int | None = None,
    whole_tree: bool = False,
) -> StoredReview:
    """Store a review and its findings' true states in one transaction.

    `reported` is compared with the base review's open findings (`baseline.compare`:
    by identity, as a multiset, old paths mapped through `renamed`, identical ones
    paired by where `moved` says their lines went):
    - reported and open at the base → open (the same row, so its feedback stays);
    - reported and not open at the base → new (a finding fixed earlier that came
      back reuses its row);
    - open at the base and not reported: `fate(path at head, line)` says whether it
      is carried over as open (at that line: a reviewer that saw only part of the
      tree) or None: fixed.
    Suppression is not decided here: it is derived when a review is read.
    `whole_tree` (the linters saw the whole commit): linter findings still open from
    another reviewer configuration's chain (before a rule change) are fixed too, so
    the repository's open findings are this review's.
    `replace_id`: overwrite that review (same cache key, e.g. a full review of a
    commit first reviewed as a delta) instead of adding one.
    """
    now = draft.created_at
    with session_scope(engine) as session:
        review = _review_row(session, draft, replace_id)
        assert review.id is not None
        base_rows, base_paths = _base_rows(session, base_review_id)
        if replace_id is not None:
            session.execute(
                delete(REVIEW_FINDINGS).where(REVIEW_FINDINGS.c.review_id == replace_id)
            )
        earlier = [
            Earlier(row_id, base_paths[row_id], row.category, row.message, at.line)
            for row_id, (row, at) in base_rows.items()
        ]
        comparison = compare(reported, earlier, renamed, moved)
        placed = place_earlier(session, comparison, base_rows, fate, review.id, now)
        placed += place_new(session, draft.repo, comparison, base_rows, placed, review.id, now)
        assign_fingerprints(session, draft.repo, placed)  # flushes: every row has an id
        _mark_reported(session, placed, review.id, now)
        if whole_tree:
            _close_linter_findings_of_other_chains(session, draft.repo, review.id, now)
        _record_states(session, review, placed)
        review_id = review.id
    stored = load_review(engine, review_id)
    assert stored is not None
    return stored


def _review_row(session: Session, draft: ReviewDraft, replace_id: int | None) -> Review:
    """The review's row, written from the draft (over `replace_id`'s when given)."""
    columns = {name: getattr(draft, name) for name in _DRAFT_COLUMNS}
    columns["skipped_files"] = _skipped_json(draft.skipped_files)
    columns["notes"] = json.dumps(list(draft.notes))
    review = session.get(Review, replace_id) if replace_id is not None else None
    if review is None:
        review = Review(**columns)
    else:
        for name, value in columns.items():
            setattr(review, name, value)
    session.add(review)
    session.flush()
    return review


def _base_rows(
    session: Session, base_review_id: int | None
) -> tuple[dict[int, tuple[Finding, At]], dict[int, str]]:
    """The base review's open findings by id, with where each stood in it, and the
    path it had there (its file may have moved since)."""
    base_rows: dict[int, tuple[Finding, At]] = {}
    base_paths: dict[int, str] = {}
    if base_review_id is None:
        return base_rows, base_paths
    rows = session.exec(
        sm_select(Finding, ReviewFinding.line, ReviewFinding.cell, ReviewFinding.path)
        .join(ReviewFinding, col(ReviewFinding.finding_id) == col(Finding.id))
        .where(
            ReviewFinding.review_id == base_review_id,
            col(ReviewFinding.state).in_(("new", "open")),
        )
    ).all()
    for row, line, cell, then in rows:
        if row.id is not None:
            base_rows[row.id] = (row, At(line, cell))
            base_paths[row.id] = then or row.path
    return base_rows, base_paths


def _record_states(session: Session, review: Review, placed: list[Placed]) -> None:
    """Each finding's state in this review (its counts are derived from these rows
    when it is read)."""
    if placed:
        session.execute(
            insert(REVIEW_FINDINGS),
            [
                {
                    "review_id": review.id,
                    "finding_id": row.id,
                    "state": state,
                    "line": at.line,
                    "cell": at.cell,
                }
                for row, _fingerprint, state, at in placed
            ],
        )


def _mark_reported(session: Session, placed: list[Placed], review_id: int, now: datetime) -> None:
    """last_review_id of every row this review reports, in a few statements (a large
    repository has tens of thousands of open findings, most unchanged)."""
    ids = [row.id for row, _fp, state, _at in placed if state != "fixed"]
    for start in range(0, len(ids), 500):
        session.execute(
            update(FINDINGS)
            .where(FINDINGS.c.id.in_(ids[start : start + 500]))
            .values(last_review_id=review_id, updated_at=now)
        )


def _close_linter_findings_of_other_chains(
    session: Session, repo: str, review_id: int, now: datetime
) -> None:
    """Open linter findings this review did not report (left by another reviewer
    configuration's chain) are fixed; model findings (source llm:*) are left alone."""
    session.execute(
        update(FINDINGS)
        .where(
            FINDINGS.c.repo == repo,
            FINDINGS.c.status == "open",
            FINDINGS.c.source.not_like("llm:%"),
            or_(FINDINGS.c.last_review_id.is_(None), FINDINGS.c.last_review_id != review_id),
        )
        .values(status="fixed", fixed_review_id=review_id, updated_at=now)
    )


def _skipped_json(skipped: Sequence[SkippedFile]) -> str:
    return json.dumps([{"path": s.path, "reason": s.reason} for s in skipped])
