"""A review into storage: the review row and the findings' life over time.

Each review stores its complete picture of the repository for its reviewer chain:
every finding it reported (new or still open), every earlier finding a partial
reviewer (a model) carried over from an untouched file (open), and every earlier
finding it saw gone (fixed); also every file it did not review, with the reason
(`skipped_files`: skip rules, budget, the reviewer's own `not_reviewed`). States are the true
ones: suppression is not stored; history.py reads it all back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from jobs.review.baseline import Comparison, Earlier, compare
from jobs.review.budget import SkippedFile
from jobs.review.finding import Finding as ReportedFinding
from jobs.review.finding import finding_fingerprint
from jobs.review.history import FINDINGS, REVIEW_FINDINGS, load_review
from jobs.review.stored import At, StoredReview, at_of
from storage.db import session_scope
from storage.models import Finding, Review, ReviewFinding

# A row this review reports: the row, the fingerprint it must carry, its state, where.
Placed = tuple[Finding, str, str, At]


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
        placed = _place_earlier(session, comparison, base_rows, fate, review.id, now)
        placed += _place_new(session, draft.repo, comparison, base_rows, placed, review.id, now)
        _assign_fingerprints(session, draft.repo, placed)  # flushes: every row has an id
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


def _place_earlier(
    session: Session,
    comparison: Comparison[int],
    base_rows: dict[int, tuple[Finding, At]],
    fate: Callable[[str, int], int | None],
    review_id: int,
    now: datetime,
) -> list[Placed]:
    """The base's findings in this review: reported again (open, the same row, so its
    feedback stays), or not reported: carried over as open where `fate` says its line
    went, else fixed."""
    placed: list[Placed] = []
    for now_at_head, before in comparison.still_open:
        row = base_rows[before.handle][0]
        _keep_earlier_path(session, row, now_at_head.finding.path)
        _take_report(row, now_at_head.finding)
        placed.append((row, now_at_head.fingerprint, "open", at_of(now_at_head.finding)))
    for earlier_one, path in comparison.gone:
        row, at = base_rows[earlier_one.handle]
        moved_to = fate(path, at.line)
        if moved_to is None:
            row.status, row.fixed_review_id, row.updated_at = "fixed", review_id, now
            placed.append((row, row.fingerprint, "fixed", at))
        else:
            fingerprint = _carried_fingerprint(row, path)  # before the path changes
            _keep_earlier_path(session, row, path)
            row.path = path
            placed.append((row, fingerprint, "open", At(moved_to, at.cell)))
    return placed


def _place_new(
    session: Session,
    repo: str,
    comparison: Comparison[int],
    base_rows: dict[int, tuple[Finding, At]],
    placed: list[Placed],
    review_id: int,
    now: datetime,
) -> list[Placed]:
    """The findings new in this review: a finding fixed earlier that came back reuses
    its row; one whose identity a carried finding already holds is that one."""
    taken = {fingerprint for _row, fingerprint, _state, _at in placed}
    wanted = [now_at_head.fingerprint for now_at_head in comparison.new]
    reusable: dict[str, Finding] = {}
    for start in range(0, len(wanted), 500):
        for known in session.exec(
            sm_select(Finding).where(
                Finding.repo == repo,
                col(Finding.fingerprint).in_(wanted[start : start + 500]),
            )
        ):
            if known.id not in base_rows:
                reusable[known.fingerprint] = known
    held_by_base = {row.fingerprint for row, _at in base_rows.values()}
    new: list[Placed] = []
    for now_at_head in comparison.new:
        found = now_at_head.finding
        if now_at_head.fingerprint in taken:
            continue  # a carried finding already holds this identity
        known_row = reusable.pop(now_at_head.fingerprint, None)
        if known_row is None:
            # A base row may still hold the fingerprint (it moves in
            # _assign_fingerprints); otherwise the row is made with its own.
            held = now_at_head.fingerprint in held_by_base
            fingerprint = f"pending:{uuid.uuid4().hex}" if held else now_at_head.fingerprint
            row = Finding(
                repo=repo,
                fingerprint=fingerprint,
                first_review_id=review_id,
                created_at=now,
                **_reported_columns(found),
            )
        else:
            row = known_row
            _keep_earlier_path(session, row, found.path)
            _take_report(row, found)
        session.add(row)
        new.append((row, now_at_head.fingerprint, "new", at_of(found)))
    return new


def _record_states(session: Session, review: Review, placed: list[Placed]) -> None:
    """Each finding's state in this review, and the review's counts of them."""
    counts = {"new": 0, "open": 0, "fixed": 0, "suppressed": 0}
    for _row, _fingerprint, state, _at in placed:
        counts[state] += 1
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
    review.new_count, review.open_count = counts["new"], counts["open"]
    review.fixed_count, review.suppressed_count = counts["fixed"], counts["suppressed"]
    session.add(review)
    session.flush()


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


def _reported_columns(found: ReportedFinding) -> dict[str, Any]:
    """A row's columns as the reviewer reported the finding at this commit: where and
    what it is (the report's own fields), and open."""
    return {**found.model_dump(), "status": "open", "fixed_review_id": None}


def _keep_earlier_path(session: Session, row: Finding, path: str) -> None:
    """The row moves to `path` (its file was renamed): the reviews that listed it at
    its old path keep saying so, should one be replayed after a history rewind."""
    if row.id is not None and row.path != path:
        session.execute(
            update(REVIEW_FINDINGS)
            .where(REVIEW_FINDINGS.c.finding_id == row.id, REVIEW_FINDINGS.c.path.is_(None))
            .values(path=row.path)
        )


def _take_report(row: Finding, found: ReportedFinding) -> None:
    """The row now says what the reviewer reported at this commit (an unchanged row
    is left clean, so nothing is written for it)."""
    now_says = _reported_columns(found)
    if any(getattr(row, name) != value for name, value in now_says.items()):
        for name, value in now_says.items():
            setattr(row, name, value)


def _carried_fingerprint(row: Finding, path: str) -> str:
    """A carried finding keeps its fingerprint unless its file was renamed."""
    if path == row.path and row.fingerprint:
        return row.fingerprint
    moved = ReportedFinding(
        path=path,
        line=max(row.line, 1),
        severity="info",
        category=row.category,
        message=row.message,
        source=row.source,
    )
    return finding_fingerprint(moved)


def _assign_fingerprints(session: Session, repo: str, placed: list[Placed]) -> None:
    """Give each new or open row its fingerprint. Pairing and renames move fingerprints
    between rows of one review (even swap them), so changing rows first take a unique
    placeholder (new rows are made with one); any other row holding a wanted
    fingerprint (one fixed now, or a stale one of another commit) gives it up."""
    wanted = {fp: row for row, fp, state, _at in placed if state != "fixed"}
    changing = [(row, fp) for fp, row in wanted.items() if row.fingerprint != fp]
    for row, _fingerprint in changing:
        if not row.fingerprint.startswith("pending:"):  # new rows hold a unique one already
            row.fingerprint = f"moving:{row.id}"
        session.add(row)
    session.flush()
    if not changing:
        return
    targets = [fp for _row, fp in changing]
    for start in range(0, len(targets), 500):
        for holder in session.exec(
            sm_select(Finding).where(
                Finding.repo == repo, col(Finding.fingerprint).in_(targets[start : start + 500])
            )
        ):
            if wanted.get(holder.fingerprint) is not holder:
                holder.fingerprint = hashlib.sha256(f"retired:{holder.id}".encode()).hexdigest()
                session.add(holder)
    session.flush()
    for row, fingerprint in changing:
        row.fingerprint = fingerprint
        session.add(row)
    session.flush()


def _skipped_json(skipped: Sequence[SkippedFile]) -> str:
    return json.dumps([{"path": s.path, "reason": s.reason} for s in skipped])
