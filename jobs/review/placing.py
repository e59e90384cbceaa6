"""Where each finding stands in a new review, against its base: the base's findings
reported again (open, the same row, so its feedback stays), carried over or fixed;
the new ones (a finding fixed earlier that came back reuses its row); and the
fingerprint each row must carry, moved between rows without ever colliding."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from jobs.review.baseline import Comparison
from jobs.review.finding import Finding as ReportedFinding
from jobs.review.finding import finding_fingerprint
from jobs.review.history import REVIEW_FINDINGS
from jobs.review.stored import At, at_of
from storage.models import Finding

# A row this review reports: the row, the fingerprint it must carry, its state, where.
Placed = tuple[Finding, str, str, At]


def place_earlier(
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


def place_new(
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
            # assign_fingerprints); otherwise the row is made with its own.
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


def assign_fingerprints(session: Session, repo: str, placed: list[Placed]) -> None:
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
