"""The review cache and the findings' history, read from storage.

A review's stored picture (what store.py writes) is read back here: the cached
review of a commit (`cached_review`, the cache-hit path: SQLAlchemy Core on indexed
columns, so it costs about as much as reading a ref), a review by id, the last review
of a chain, and the open findings of a repository. Suppression is not stored: it is
derived from the feedback rows and the muted rules as they are now, so a cached reply
hides a false positive marked, or a rule muted, after the review was made.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from jobs.review.budget import SkippedFile
from jobs.review.feedback import FEEDBACK, Mark
from jobs.review.mutes import muted_finding_ids, standing
from jobs.review.stored import ReviewedFinding, StoredReview, skipped_from_json, sort_findings
from storage.models import Finding, JobRun, Review, ReviewFinding

REVIEWS = Review.__table__  # type: ignore[attr-defined]


FINDINGS = Finding.__table__  # type: ignore[attr-defined]


REVIEW_FINDINGS = ReviewFinding.__table__  # type: ignore[attr-defined]


JOB_RUNS = JobRun.__table__  # type: ignore[attr-defined]


COUNTED_STATES = ("new", "open", "fixed")


def _reviewed_columns(where: Any) -> list[Any]:
    """The columns of a ReviewedFinding but its status, in its order; `line` and
    `cell` are where it stood, as `where` (a table's columns) has them: in one review,
    or now."""
    names = [f.name for f in fields(ReviewedFinding) if f.name != "status"]
    return [where[name] if name in ("line", "cell") else FINDINGS.c[name] for name in names]


def path_in_review() -> Any:
    """A finding's path in one review: the one it had then if its file moved since."""
    return func.coalesce(REVIEW_FINDINGS.c.path, FINDINGS.c.path)


# A finding as one review listed it: where it stood then, and its state in that review.
_FINDING_COLUMNS = (
    *(
        path_in_review().label("path") if column is FINDINGS.c.path else column
        for column in _reviewed_columns(REVIEW_FINDINGS.c)
    ),
    REVIEW_FINDINGS.c.state,
)


def _stored(connection: Connection, row: Any) -> StoredReview:
    """A review row with its findings, suppression derived from feedback and muted
    rules as they are now."""
    review_id = int(row["id"])
    in_review = select(REVIEW_FINDINGS.c.finding_id).where(REVIEW_FINDINGS.c.review_id == review_id)
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
        .where(FEEDBACK.c.finding_id.in_(in_review))
        .order_by(FEEDBACK.c.id)
    ):
        marks.setdefault(int(finding_id), []).append(Mark(str(verdict), str(name or user)))
    false_positives = {
        finding_id
        for finding_id, found in marks.items()
        if any(mark.verdict == "false_positive" for mark in found)
    }
    muted_ids = set(connection.execute(muted_finding_ids(in_review)).scalars())
    shown: list[ReviewedFinding] = []
    hidden: list[ReviewedFinding] = []
    muted: list[ReviewedFinding] = []
    for found in (ReviewedFinding(*r) for r in rows):
        if found.status != "fixed" and found.id in muted_ids:
            muted.append(replace(found, status="muted"))
        elif found.status != "fixed" and found.id in false_positives:
            hidden.append(replace(found, status="suppressed"))
        else:
            shown.append(found)
    return StoredReview(
        dict(row),
        tuple(sort_findings(shown)),
        tuple(sort_findings(hidden)),
        {finding_id: tuple(found) for finding_id, found in marks.items()},
        tuple(sort_findings(muted)),
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
    """The delta base: the review the repository's findings are, when this reviewer
    configuration made it (after a history rewind, the commit rewound to), else the
    newest review by this configuration."""
    served = served_review_id(engine, repo)
    mine = (REVIEWS.c.repo == repo, REVIEWS.c.reviewer_fingerprint == fingerprint)
    with engine.connect() as connection:
        columns = (REVIEWS.c.id, REVIEWS.c.commit_sha, REVIEWS.c.skipped_files)
        row = None
        if served is not None:
            row = connection.execute(select(*columns).where(*mine, REVIEWS.c.id == served)).first()
        if row is None:
            row = connection.execute(
                select(*columns)
                .where(*mine)
                .order_by(REVIEWS.c.created_at.desc(), REVIEWS.c.id.desc())
                .limit(1)
            ).first()
    if row is None:
        return None
    return LastReview(int(row[0]), str(row[1]), skipped_from_json(row[2] or "[]"))


def served_review_id(engine: Engine, repo: str) -> int | None:
    """The review the repository's newest review run answered with, made or replayed
    from the cache: the repository's findings are that review's (a cache hit on
    another one makes it so: current.make_current); a branch's review, run under the
    repository's job too, is not the repository's. One indexed query."""
    with engine.connect() as connection:
        return connection.execute(
            select(JOB_RUNS.c.review_id)
            .join(REVIEWS, REVIEWS.c.id == JOB_RUNS.c.review_id)
            .where(JOB_RUNS.c.job == f"review:{repo}", REVIEWS.c.repo == repo)
            .order_by(JOB_RUNS.c.started_at.desc(), JOB_RUNS.c.id.desc())
            .limit(1)
        ).scalar()


def review_commit(engine: Engine, review_id: int | None) -> str | None:
    """The commit a review is of (None for no review)."""
    if review_id is None:
        return None
    with engine.connect() as connection:
        sha = connection.execute(
            select(REVIEWS.c.commit_sha).where(REVIEWS.c.id == review_id)
        ).scalar()
    return None if sha is None else str(sha)


def review_cache_key(repo: str, sha: str, fingerprint: str) -> str:
    """A short form of the cache key for job_runs.cache_key (64 characters)."""
    return hashlib.sha256(f"{repo}\0{sha}\0{fingerprint}".encode()).hexdigest()


def open_findings(engine: Engine, repo: str, standing_as: str = "open") -> list[ReviewedFinding]:
    """Open findings of a repository, most severe first: those listed (open), those
    someone marked false positive (suppressed), or those of a muted rule (muted)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(*_reviewed_columns(FINDINGS.c)).where(
                FINDINGS.c.repo == repo, FINDINGS.c.status == "open", standing(standing_as)
            )
        ).all()
    return sort_findings(ReviewedFinding(*row, standing_as) for row in rows)  # type: ignore[call-arg]


def standing_counts(connection: Connection, standing_as: str = "open") -> dict[str, int]:
    """How many open findings each repository has listed (open), marked false positive
    (suppressed) or of a muted rule (muted), each once — as /findings lists them."""
    rows = connection.execute(
        select(FINDINGS.c.repo, func.count())
        .where(FINDINGS.c.status == "open", standing(standing_as))
        .group_by(FINDINGS.c.repo)
    )
    return {str(repo): int(count) for repo, count in rows}


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
