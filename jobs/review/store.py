"""The review cache and the findings' life over time, in storage.

Each review stores its complete picture of the repository for its reviewer chain:
every finding it reported (new or still open), every earlier finding a partial
reviewer (a model) carried over from an untouched file (open), and every earlier
finding it saw gone (fixed); also every file it did not review, with the reason
(`skipped_files`: skip rules, budget, the reviewer's own `not_reviewed`). States are the true
ones: suppression is not stored. The read side (`cached_review`, `load_review`,
`open_findings`) derives it from the feedback rows as they are now, so a cached
reply hides a false positive marked after the review was made.

The read path (`cached_review`) uses SQLAlchemy Core on indexed
columns: it is the cache-hit path and must cost about as much as reading a ref.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from jobs.review.baseline import Earlier, compare
from jobs.review.budget import SkippedFile
from jobs.review.feedback import FEEDBACK, Mark
from jobs.review.finding import Finding as ReportedFinding
from jobs.review.finding import finding_fingerprint
from storage.db import session_scope
from storage.models import Finding, Review, ReviewFinding

REVIEWS = Review.__table__  # type: ignore[attr-defined]
FINDINGS = Finding.__table__  # type: ignore[attr-defined]
REVIEW_FINDINGS = ReviewFinding.__table__  # type: ignore[attr-defined]
COUNTED_STATES = ("new", "open", "fixed", "suppressed")
# Display order: what is new first, then what is still open, then what was fixed.
STATE_ORDER = {"new": 0, "open": 1, "fixed": 2, "suppressed": 3}
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class At(NamedTuple):
    """Where a finding stood in one review: its line, and in a notebook its cell."""

    line: int
    cell: int | None = None


def at_of(found: ReportedFinding) -> At:
    return At(found.line, found.cell)


# A row this review reports: the row, the fingerprint it must carry, its state, where.
Placed = tuple[Finding, str, str, At]


@dataclass(frozen=True)
class ReviewedFinding:
    """A finding as one review reported it. `status` is its state in that review:
    new | open | fixed, or suppressed when a false positive stands on it now."""

    id: int
    fingerprint: str
    path: str
    line: int
    cell: int | None  # the notebook cell `line` counts in (ruff's), None in other files
    end_line: int | None
    severity: str
    category: str
    message: str
    suggestion: str | None
    source: str
    status: str

    def as_row(self) -> Finding:
        """A detached storage row, for the shared rendering (`finding_block`)."""
        status = "fixed" if self.status == "fixed" else "open"
        return Finding(repo="", **(asdict(self) | {"status": status}))


def sort_findings(findings: Iterable[ReviewedFinding]) -> list[ReviewedFinding]:
    return sorted(
        findings,
        key=lambda f: (
            STATE_ORDER[f.status],
            SEVERITY_ORDER.get(f.severity, 3),
            f.path,
            f.cell or 0,
            f.line,
        ),
    )


@dataclass(frozen=True)
class StoredReview:
    row: dict[str, Any]  # the reviews row's columns
    findings: tuple[ReviewedFinding, ...]  # sorted; suppressed left out
    suppressed: tuple[ReviewedFinding, ...] = ()  # false positives now, counted only
    marks: dict[int, tuple[Mark, ...]] = field(default_factory=dict)  # finding id → who marked what

    @property
    def id(self) -> int:
        return int(self.row["id"])

    @property
    def counts(self) -> dict[str, int]:
        """new / open / fixed / suppressed as derived now: they add up to what is listed."""
        tally = Counter(f.status for f in self.findings)
        return {
            "new": tally["new"],
            "open": tally["open"],
            "fixed": tally["fixed"],
            "suppressed": len(self.suppressed),
        }

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(json.loads(self.row.get("notes") or "[]"))

    @property
    def skipped_files(self) -> tuple[SkippedFile, ...]:
        return _skipped_from_json(self.row["skipped_files"])


def _skipped_from_json(text: str) -> tuple[SkippedFile, ...]:
    return tuple(SkippedFile(s["path"], s["reason"]) for s in json.loads(text))


def _reviewed_columns(where: Any) -> list[Any]:
    """The columns of a ReviewedFinding but its status, in its order; `line` and
    `cell` are where it stood, as `where` (a table's columns) has them: in one review,
    or now."""
    names = [f.name for f in fields(ReviewedFinding) if f.name != "status"]
    return [where[name] if name in ("line", "cell") else FINDINGS.c[name] for name in names]


# A finding as one review listed it: where it stood then, and its state in that review.
_FINDING_COLUMNS = (*_reviewed_columns(REVIEW_FINDINGS.c), REVIEW_FINDINGS.c.state)


def _stored(connection: Connection, row: Any) -> StoredReview:
    """A review row with its findings, suppression derived from feedback as it is now."""
    review_id = int(row["id"])
    rows = connection.execute(
        select(*_FINDING_COLUMNS)
        .join(FINDINGS, FINDINGS.c.id == REVIEW_FINDINGS.c.finding_id)
        .where(
            REVIEW_FINDINGS.c.review_id == review_id,
            REVIEW_FINDINGS.c.state.in_(COUNTED_STATES),
        )
    ).all()
    marks: dict[int, list[Mark]] = {}
    for finding_id, verdict, name, user in connection.execute(
        select(FEEDBACK.c.finding_id, FEEDBACK.c.verdict, FEEDBACK.c.user_name, FEEDBACK.c.user)
        .where(
            FEEDBACK.c.finding_id.in_(
                select(REVIEW_FINDINGS.c.finding_id).where(REVIEW_FINDINGS.c.review_id == review_id)
            )
        )
        .order_by(FEEDBACK.c.id)
    ):
        marks.setdefault(int(finding_id), []).append(Mark(str(verdict), str(name or user)))
    false_positives = {
        finding_id
        for finding_id, found in marks.items()
        if any(mark.verdict == "false_positive" for mark in found)
    }
    shown: list[ReviewedFinding] = []
    hidden: list[ReviewedFinding] = []
    for found in (ReviewedFinding(*r) for r in rows):
        if found.status != "fixed" and found.id in false_positives:
            hidden.append(replace(found, status="suppressed"))
        elif found.status == "suppressed":
            # Stored by an older opsdesk; its false positive was taken back since.
            shown.append(replace(found, status="open"))
        else:
            shown.append(found)
    return StoredReview(
        dict(row),
        tuple(sort_findings(shown)),
        tuple(sort_findings(hidden)),
        {finding_id: tuple(found) for finding_id, found in marks.items()},
    )


def cached_review(engine: Engine, repo: str, sha: str, fingerprint: str) -> StoredReview | None:
    """The stored review for the cache key, or None. Three indexed queries: the
    review, its findings, and the feedback standing on them now."""
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
        return _stored(connection, row)


def load_review(engine: Engine, review_id: int) -> StoredReview | None:
    with engine.connect() as connection:
        row = (
            connection.execute(select(REVIEWS).where(REVIEWS.c.id == review_id)).mappings().first()
        )
        if row is None:
            return None
        return _stored(connection, row)


@dataclass(frozen=True)
class LastReview:
    id: int
    commit_sha: str
    skipped_files: tuple[SkippedFile, ...] = ()  # every file it did not review, with why


def last_review(engine: Engine, repo: str, fingerprint: str) -> LastReview | None:
    """The newest review of `repo` by this reviewer configuration: the delta base."""
    with engine.connect() as connection:
        row = connection.execute(
            select(REVIEWS.c.id, REVIEWS.c.commit_sha, REVIEWS.c.skipped_files)
            .where(REVIEWS.c.repo == repo, REVIEWS.c.reviewer_fingerprint == fingerprint)
            .order_by(REVIEWS.c.created_at.desc(), REVIEWS.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    return LastReview(int(row[0]), str(row[1]), _skipped_from_json(row[2] or "[]"))


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
        base_rows: dict[int, tuple[Finding, At]] = {}
        if base_review_id is not None:
            rows = session.exec(
                sm_select(Finding, ReviewFinding.line, ReviewFinding.cell)
                .join(ReviewFinding, col(ReviewFinding.finding_id) == col(Finding.id))
                .where(
                    ReviewFinding.review_id == base_review_id,
                    col(ReviewFinding.state).in_(("new", "open", "suppressed")),
                )
            ).all()
            base_rows = {
                row.id: (row, At(line, cell)) for row, line, cell in rows if row.id is not None
            }
        if replace_id is not None:
            session.execute(
                delete(REVIEW_FINDINGS).where(REVIEW_FINDINGS.c.review_id == replace_id)
            )
        earlier = [
            Earlier(row_id, row.path, row.category, row.message, at.line)
            for row_id, (row, at) in base_rows.items()
        ]
        comparison = compare(reported, earlier, renamed, moved)
        # Each row of this review with the fingerprint it must carry and its state.
        placed: list[Placed] = []
        for now_at_head, before in comparison.still_open:
            row = base_rows[before.handle][0]
            _take_report(row, now_at_head.finding)
            placed.append((row, now_at_head.fingerprint, "open", at_of(now_at_head.finding)))
        for earlier_one, path in comparison.gone:
            row, at = base_rows[earlier_one.handle]
            moved_to = fate(path, at.line)
            if moved_to is None:
                row.status, row.fixed_review_id, row.updated_at = "fixed", review.id, now
                placed.append((row, row.fingerprint, "fixed", at))
            else:
                fingerprint = _carried_fingerprint(row, path)  # before the path changes
                row.path = path
                placed.append((row, fingerprint, "open", At(moved_to, at.cell)))
        taken = {fingerprint for _row, fingerprint, _state, _at in placed}
        wanted = [now_at_head.fingerprint for now_at_head in comparison.new]
        reusable: dict[str, Finding] = {}
        for start in range(0, len(wanted), 500):
            for known in session.exec(
                sm_select(Finding).where(
                    Finding.repo == draft.repo,
                    col(Finding.fingerprint).in_(wanted[start : start + 500]),
                )
            ):
                if known.id not in base_rows:
                    reusable[known.fingerprint] = known
        held_by_base = {row.fingerprint for row, _at in base_rows.values()}
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
                    repo=draft.repo,
                    fingerprint=fingerprint,
                    first_review_id=review.id,
                    created_at=now,
                    **_reported_columns(found),
                )
            else:
                row = known_row
                _take_report(row, found)
            session.add(row)
            placed.append((row, now_at_head.fingerprint, "new", at_of(found)))
        _assign_fingerprints(session, draft.repo, placed)  # flushes: every row has an id
        _mark_reported(session, placed, review.id, now)
        if whole_tree:
            _close_linter_findings_of_other_chains(session, draft.repo, review.id, now)
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
        review_id = review.id
    stored = load_review(engine, review_id)
    assert stored is not None
    return stored


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


def open_findings(engine: Engine, repo: str, *, suppressed: bool = False) -> list[ReviewedFinding]:
    """Open findings of a repository, most severe first: those nobody marked false
    positive, or with `suppressed` only those someone did."""
    marked = (
        select(FEEDBACK.c.finding_id)
        .where(FEEDBACK.c.verdict == "false_positive")
        .scalar_subquery()
    )
    is_marked = FINDINGS.c.id.in_(marked)
    with engine.connect() as connection:
        rows = connection.execute(
            select(*_reviewed_columns(FINDINGS.c)).where(
                FINDINGS.c.repo == repo,
                FINDINGS.c.status == "open",
                is_marked if suppressed else ~is_marked,
            )
        ).all()
    status = "suppressed" if suppressed else "open"
    return sort_findings(ReviewedFinding(*row, status) for row in rows)  # type: ignore[call-arg]


def count_reviews(engine: Engine, repo: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).where(REVIEWS.c.repo == repo)).scalar_one()
        )


def finding_state(engine: Engine, finding: Finding) -> str:
    """A finding's status now: fixed, else its state in the newest review that listed
    it (new or open), so an updated message keeps the tag the review showed."""
    if finding.status == "fixed" or finding.last_review_id is None:
        return "fixed" if finding.status == "fixed" else "open"
    with engine.connect() as connection:
        state = connection.execute(
            select(REVIEW_FINDINGS.c.state).where(
                REVIEW_FINDINGS.c.review_id == finding.last_review_id,
                REVIEW_FINDINGS.c.finding_id == finding.id,
            )
        ).scalar()
    return "new" if state == "new" else "open"
