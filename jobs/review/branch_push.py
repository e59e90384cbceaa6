"""A push to a reviewed branch, reviewed as a delta.

Linters: the branch's truth stays the linter at the new head minus the linter at the
merge base, but the merge base's findings are kept (by commit and reviewer
fingerprint, beside the repository's scratch checkout) the first time it is linted,
so a push lints only its new head. A model: the last review of the branch by the
same reviewer, from the same merge base, at a head the new one descends from, is
the base; the model reads only what the push changed (that head → the new head), and
the earlier findings in files the push left alone, or on lines it did not change,
are carried over at their moved lines (as the repository's own deltas carry theirs).
A force-push (the earlier head no longer an ancestor), a new merge base or an earlier
review with files left for a second try: a full branch review again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from jobs.review import git
from jobs.review.budget import SkippedFile
from jobs.review.engine import by_mischance
from jobs.review.finding import Finding
from jobs.review.history import REVIEWS, load_review
from jobs.review.linemap import line_mover, partial_fate
from jobs.review.lint.results_cache import RESULTS_FILE, ResultCache
from jobs.review.reviewers import ReviewerOutput, ReviewInput
from jobs.review.stored import ReviewedFinding, StoredReview

EARLIER_HEADS = 20  # the branch reviews looked at for one the new head descends from
_MERGE_BASE_LINT = "merge-base-lint\0{sha}\0{fingerprint}"


def kept_lint(scratch: Path, sha: str, fingerprint: str) -> list[Finding] | None:
    """The linters' findings at commit `sha` by the reviewer `fingerprint`, when a
    branch review linted it before (None: it must be linted)."""
    key = _MERGE_BASE_LINT.format(sha=sha, fingerprint=fingerprint)
    return ResultCache(scratch / RESULTS_FILE).get_many([key]).get(key)


def keep_lint(scratch: Path, sha: str, fingerprint: str, findings: Sequence[Finding]) -> None:
    key = _MERGE_BASE_LINT.format(sha=sha, fingerprint=fingerprint)
    ResultCache(scratch / RESULTS_FILE).put_many({key: list(findings)})


@dataclass(frozen=True)
class EarlierHead:
    """The branch's review a push is a delta from."""

    review: StoredReview
    commit_sha: str


def earlier_head(
    engine: Engine, stored_as: str, fingerprint: str, repo: Path, head_sha: str
) -> EarlierHead | None:
    """The newest review by `fingerprint` (reviewer and merge base) of a commit the new
    head descends from; None after a force-push, or when that review left files for a
    second try (a full review then sees them)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(REVIEWS.c.id, REVIEWS.c.commit_sha)
            .where(REVIEWS.c.repo == stored_as, REVIEWS.c.reviewer_fingerprint == fingerprint)
            .order_by(REVIEWS.c.id.desc())
            .limit(EARLIER_HEADS)
        ).all()
    for review_id, sha in rows:
        if sha == head_sha or not _is_ancestor(repo, str(sha), head_sha):
            continue
        review = load_review(engine, int(review_id))
        if review is None or any(by_mischance(s.reason) for s in review.skipped_files):
            return None
        return EarlierHead(review, str(sha))
    return None


def carried_findings(
    earlier: EarlierHead, push: ReviewInput, output: ReviewerOutput
) -> tuple[list[Finding], list[SkippedFile]]:
    """The earlier review's findings still standing after the push (renamed files
    followed, lines moved; none on a line the push changed in a file the model read
    again), and the files it left out that the push did not touch."""
    repo, head = push.repo, push.head_sha
    tree = git.tree_sizes(repo, head)
    renamed = git.renames(repo, earlier.commit_sha, head)
    moved = line_mover(repo, earlier.commit_sha, head, push.changed_paths)
    fate = partial_fate(push.files, tree, moved)
    earlier_ones = (*earlier.review.findings, *earlier.review.suppressed, *earlier.review.muted)
    carried = []
    for found in earlier_ones:
        path = renamed.get(found.path, found.path)
        line = fate(path, found.line)
        if line is not None:
            carried.append(_at(found, path, line))
    reported = {f.path for f in push.files} | {s.path for s in output.not_reviewed}
    reported |= {s.path for s in push.packed.skipped}
    untouched = [
        SkippedFile(renamed.get(s.path, s.path), s.reason)
        for s in earlier.review.skipped_files
        if renamed.get(s.path, s.path) in tree and renamed.get(s.path, s.path) not in reported
    ]
    return carried, untouched


def _at(found: ReviewedFinding, path: str, line: int) -> Finding:
    """The finding as the model reported it, at its place after the push."""
    shift = line - found.line
    end_line = None if found.end_line is None else found.end_line + shift
    reported = {k: v for k, v in asdict(found).items() if k in Finding.model_fields}
    return Finding.model_validate(reported | {"path": path, "line": line, "end_line": end_line})


def _is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    try:
        return git.is_ancestor(repo, ancestor, descendant)
    except git.GitError:
        return False  # rewritten and collected
