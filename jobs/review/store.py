"""The review cache and the findings' life over time, in storage.

Each review stores its complete picture of the repository for its reviewer chain:
every finding it reported (new or still open), every earlier finding it carried
over from an untouched file (open), every earlier finding it saw gone (fixed), and
the suppressed ones (counted, never shown). A cache hit replays exactly these rows.

The read path (`cached_review`) uses SQLAlchemy Core on indexed
columns: it is the cache-hit path and must cost about as much as reading a ref.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col
from sqlmodel import select as sm_select

from jobs.feedback import suppressed_fingerprints
from jobs.review.budget import SkippedFile
from jobs.review.finding import Finding as ReportedFinding
from jobs.review.finding import finding_fingerprint
from storage.db import session_scope
from storage.models import Finding, Review, ReviewFinding

REVIEWS = Review.__table__  # type: ignore[attr-defined]
FINDINGS = Finding.__table__  # type: ignore[attr-defined]
REVIEW_FINDINGS = ReviewFinding.__table__  # type: ignore[attr-defined]
SHOWN_STATES = ("new", "open", "fixed")
# Display order: what is new first, then what is still open, then what was fixed.
STATE_ORDER = {"new": 0, "open": 1, "fixed": 2, "suppressed": 3}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class ReviewedFinding:
    """A finding as one review reported it. `status` is its state in that review:
    new | open | fixed (suppressed findings are never part of a result)."""

    id: int
    fingerprint: str
    path: str
    line: int
    end_line: int | None
    severity: str
    category: str
    message: str
    suggestion: str | None
    source: str
    status: str

    def as_row(self) -> Finding:
        """A detached storage row, for the shared rendering (`finding_block`)."""
        return Finding(
            id=self.id, repo="", fingerprint=self.fingerprint, path=self.path, line=self.line,
            end_line=self.end_line, severity=self.severity, category=self.category,
            message=self.message, suggestion=self.suggestion, source=self.source,
            status="fixed" if self.status == "fixed" else "open",
        )  # fmt: skip


def sort_findings(findings: Iterable[ReviewedFinding]) -> list[ReviewedFinding]:
    return sorted(
        findings,
        key=lambda f: (STATE_ORDER[f.status], SEVERITY_ORDER.get(f.severity, 3), f.path, f.line),
    )


@dataclass(frozen=True)
class StoredReview:
    row: dict[str, Any]  # the reviews row's columns
    findings: tuple[ReviewedFinding, ...]  # sorted; suppressed left out

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(json.loads(self.row.get("notes") or "[]"))

    @property
    def skipped_files(self) -> tuple[SkippedFile, ...]:
        return tuple(
            SkippedFile(s["path"], s["reason"]) for s in json.loads(self.row["skipped_files"])
        )


_FINDING_COLUMNS = (
    FINDINGS.c.id, FINDINGS.c.fingerprint, FINDINGS.c.path, REVIEW_FINDINGS.c.line,
    FINDINGS.c.end_line, FINDINGS.c.severity, FINDINGS.c.category, FINDINGS.c.message,
    FINDINGS.c.suggestion, FINDINGS.c.source, REVIEW_FINDINGS.c.state,
)  # fmt: skip


def _review_findings(connection: Connection, review_id: int) -> tuple[ReviewedFinding, ...]:
    rows = connection.execute(
        select(*_FINDING_COLUMNS)
        .join(FINDINGS, FINDINGS.c.id == REVIEW_FINDINGS.c.finding_id)
        .where(REVIEW_FINDINGS.c.review_id == review_id, REVIEW_FINDINGS.c.state.in_(SHOWN_STATES))
    ).all()
    return tuple(sort_findings(ReviewedFinding(*row) for row in rows))


def cached_review(engine: Engine, repo: str, sha: str, fingerprint: str) -> StoredReview | None:
    """The stored review for the cache key, or None. Two indexed queries."""
    with engine.connect() as connection:
        row = (
            connection.execute(
                select(REVIEWS).where(
                    REVIEWS.c.repo == repo,
                    REVIEWS.c.commit_sha == sha,
                    REVIEWS.c.reviewer_fingerprint == fingerprint,
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return StoredReview(dict(row), _review_findings(connection, int(row["id"])))


def load_review(engine: Engine, review_id: int) -> StoredReview | None:
    with engine.connect() as connection:
        row = (
            connection.execute(select(REVIEWS).where(REVIEWS.c.id == review_id)).mappings().first()
        )
        if row is None:
            return None
        return StoredReview(dict(row), _review_findings(connection, review_id))


@dataclass(frozen=True)
class LastReview:
    id: int
    commit_sha: str


def last_review(engine: Engine, repo: str, fingerprint: str) -> LastReview | None:
    """The newest review of `repo` by this reviewer configuration: the delta base."""
    with engine.connect() as connection:
        row = connection.execute(
            select(REVIEWS.c.id, REVIEWS.c.commit_sha)
            .where(REVIEWS.c.repo == repo, REVIEWS.c.reviewer_fingerprint == fingerprint)
            .order_by(REVIEWS.c.created_at.desc(), REVIEWS.c.id.desc())
            .limit(1)
        ).first()
    return None if row is None else LastReview(int(row[0]), str(row[1]))


def review_cache_key(repo: str, sha: str, fingerprint: str) -> str:
    """A short form of the cache key for job_runs.cache_key (64 characters)."""
    return hashlib.sha256(f"{repo}\0{sha}\0{fingerprint}".encode()).hexdigest()


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
    notes: Sequence[str] = ()


_DRAFT_COLUMNS = (
    "repo", "commit_sha", "base_sha", "reviewer_fingerprint", "reviewer_kind", "model", "kind",
    "commits_covered", "prompt_tokens", "completion_tokens", "full_prompt_tokens",
    "duration_ms", "model_latency_ms", "dropped_count", "created_at",
)  # fmt: skip


def save_review(
    engine: Engine,
    draft: ReviewDraft,
    reported: Sequence[ReportedFinding],
    *,
    base_review_id: int | None,
    fate: Callable[[str, int], int | None],
    replace_id: int | None = None,
) -> StoredReview:
    """Store a review and its findings' states in one transaction.

    - reported now, suppressed fingerprint → suppressed (counted, not shown);
    - reported now and in the base review's picture → open, otherwise new
      (a finding that was fixed and came back is new again);
    - in the base review's picture and not reported now: `fate(path, line)` says
      where it is now (carried over as open, at that line) or None: fixed (its file
      is gone, or the delta changed its line).
    One finding per fingerprint: the first (lowest line) report wins.
    `replace_id`: overwrite that review (same cache key, e.g. a full review of a
    commit first reviewed as a delta) instead of adding one.
    """
    by_fingerprint: dict[str, ReportedFinding] = {}
    for finding in sorted(reported, key=lambda f: (f.path, f.line)):
        by_fingerprint.setdefault(finding_fingerprint(finding), finding)
    now = draft.created_at
    with session_scope(engine) as session:
        suppressed = suppressed_fingerprints(session, draft.repo)
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
        assert review.id is not None
        previous: dict[str, tuple[Finding, int]] = {}
        if base_review_id is not None:
            rows = session.exec(
                sm_select(Finding, ReviewFinding.line)
                .join(ReviewFinding, col(ReviewFinding.finding_id) == col(Finding.id))
                .where(
                    ReviewFinding.review_id == base_review_id,
                    col(ReviewFinding.state).in_(("new", "open", "suppressed")),
                )
            ).all()
            previous = {row.fingerprint: (row, line) for row, line in rows}
        if replace_id is not None:
            session.execute(
                delete(REVIEW_FINDINGS).where(REVIEW_FINDINGS.c.review_id == replace_id)
            )
        existing: dict[str, Finding] = {}
        wanted = list(by_fingerprint)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for known in session.exec(
                sm_select(Finding).where(
                    Finding.repo == draft.repo, col(Finding.fingerprint).in_(chunk)
                )
            ):
                existing[known.fingerprint] = known
        states: list[tuple[Finding, str, int]] = []
        for fingerprint, found in by_fingerprint.items():
            known_row = existing.get(fingerprint)
            if known_row is None:
                row = Finding(
                    repo=draft.repo, fingerprint=fingerprint, path=found.path, line=found.line,
                    end_line=found.end_line, severity=found.severity, category=found.category,
                    message=found.message, suggestion=found.suggestion, source=found.source,
                    status="open", first_review_id=review.id, created_at=now,
                )  # fmt: skip
            else:
                row = known_row
                row.path, row.line, row.end_line = found.path, found.line, found.end_line
                row.severity, row.message = found.severity, found.message
                row.suggestion, row.source = found.suggestion, found.source
                row.status, row.fixed_review_id = "open", None
            row.last_review_id, row.updated_at = review.id, now
            session.add(row)
            if fingerprint in suppressed:
                state = "suppressed"
            else:
                state = "open" if fingerprint in previous else "new"
            states.append((row, state, found.line))
        for fingerprint, (row, line) in previous.items():
            if fingerprint in by_fingerprint:
                continue
            now_at = fate(row.path, line)
            if now_at is None:
                row.status, row.fixed_review_id, row.updated_at = "fixed", review.id, now
                session.add(row)
                states.append((row, "fixed", line))
            else:
                states.append((row, "suppressed" if fingerprint in suppressed else "open", now_at))
        session.flush()
        counts = {"new": 0, "open": 0, "fixed": 0, "suppressed": 0}
        for row, state, line in states:
            assert row.id is not None
            counts[state] += 1
            session.add(
                ReviewFinding(review_id=review.id, finding_id=row.id, state=state, line=line)
            )
        review.new_count, review.open_count = counts["new"], counts["open"]
        review.fixed_count, review.suppressed_count = counts["fixed"], counts["suppressed"]
        session.add(review)
        session.flush()
        review_id = review.id
    stored = load_review(engine, review_id)
    assert stored is not None
    return stored


def _skipped_json(skipped: Sequence[SkippedFile]) -> str:
    return json.dumps([{"path": s.path, "reason": s.reason} for s in skipped])


def open_findings(engine: Engine, repo: str) -> list[ReviewedFinding]:
    """Open findings of a repository, suppressed ones left out, most severe first."""
    with session_scope(engine) as session:
        suppressed = suppressed_fingerprints(session, repo)
        rows = session.exec(
            sm_select(Finding).where(Finding.repo == repo, Finding.status == "open")
        )
        found = [
            ReviewedFinding(
                r.id or 0,
                r.fingerprint,
                r.path,
                r.line,
                r.end_line,
                r.severity,
                r.category,
                r.message,
                r.suggestion,
                r.source,
                "open",
            )
            for r in rows
            if r.fingerprint not in suppressed
        ]
    return sort_findings(found)


def count_reviews(engine: Engine, repo: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).where(REVIEWS.c.repo == repo)).scalar_one()
        )
