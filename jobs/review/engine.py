"""Run one review of one repository: cache, delta, reviewer, storage, run record.

    result = run_review(context, "api")

Cache hit (same repo, commit and reviewer fingerprint): no git process beyond
`resolve_ref` (usually none), two indexed queries and one insert. Miss: the
per-repository lock, a re-check of the cache (a concurrent request may just have
finished it), then diff from the last review by the same reviewer configuration
(full when there is none, when asked, or when history was rewritten).

The engine writes no run row: what runs a review records it — the runner for the
scheduled `review` job, `recorded_review` (run_record.py) for chat and the CLI —
from `ReviewResult.run_columns()` or the `ReviewFailed` it raised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from jobs.context import Context
from jobs.review import current, git, history, store
from jobs.review.budget import RETRY_REASONS, SkippedFile
from jobs.review.diff import SKIP_REASONS
from jobs.review.linemap import fixed, line_mover, partial_fate
from jobs.review.lint.reviewer import NO_LINTER, LintReviewer
from jobs.review.llm.calibration import StoredCalibration
from jobs.review.llm.reviewer import LlmReviewer
from jobs.review.lock import repo_lock
from jobs.review.objects import ReadLimits, is_inert
from jobs.review.pipeline import prepare_review
from jobs.review.result import ReviewResult
from jobs.review.reviewers import Reviewer, ReviewerError, model_of
from jobs.review.scratch import checkout_dir
from jobs.review.spending import FallbackReviewer, LintInstead, check_budget
from jobs.review.stored import StoredReview
from jobs.review.targets import RepoTarget, ReviewFailed, resolve_target


def build_reviewer(context: Context, target: RepoTarget) -> Reviewer:
    settings = context.config.reviewer
    if (target.reviewer or settings.default) == "llm":
        calibrations = StoredCalibration(context.engine)
        return LlmReviewer(settings.llm, api_key=context.llm_api_key, calibrations=calibrations)
    return lint_reviewer(context, target)


def lint_reviewer(context: Context, target: RepoTarget) -> LintReviewer:
    settings = context.config.reviewer
    limits = read_limits(context)
    lint = settings.lint.with_linters(list(target.linters)).scoped(target.lint)
    return LintReviewer(lint, limits.max_file_bytes)


def read_limits(context: Context) -> ReadLimits:
    settings = context.config.reviewer
    return ReadLimits.from_mb(settings.max_file_mb, settings.max_diff_mb)


def run_review(
    context: Context,
    repo_target: str,
    *,
    full: bool = False,
    allow_local: bool = False,
    reviewer: Reviewer | None = None,
) -> ReviewResult:
    """Review `repo_target` at its configured ref; raises ReviewFailed (UnknownRepo).
    A model review checks the budgets first (jobs.usage.gate): it may be refused or
    made by the linters instead."""
    target = resolve_target(context, repo_target, allow_local=allow_local)
    try:
        return _run_review(context, target, full, reviewer)
    except LintInstead as instead:
        fallback = FallbackReviewer(lint_reviewer(context, target), instead.reason)
        return _run_review(context, target, full, fallback)


def _run_review(
    context: Context, target: RepoTarget, full: bool, reviewer: Reviewer | None
) -> ReviewResult:
    started, started_at = time.perf_counter(), context.clock()

    def elapsed_ms() -> int:
        return int((time.perf_counter() - started) * 1000)

    review = _Review(context, target, reviewer or build_reviewer(context, target))
    engine = context.engine
    try:
        if target.url is None and not full:
            sha = git.resolve_ref(target.path, target.ref)
            hit = history.cached_review(engine, target.name, sha, review.fingerprint)
            if hit is not None and not _worth_retrying(hit) and _is_current(engine, hit):
                return ReviewResult(hit, True, elapsed_ms(), cache_key=review.cache_key(sha))
        with repo_lock(context, target.name):
            if target.url is not None:
                git.ensure_clone(target.url, target.path)
            sha = git.resolve_ref(target.path, target.ref)
            hit = history.cached_review(engine, target.name, sha, review.fingerprint)
            fresh = hit is not None and _started_after(hit, started_at)
            usable = hit is not None and (fresh or not _worth_retrying(hit))
            if hit is not None and usable and (not full or hit.row["kind"] == "full" or fresh):
                if not _is_current(engine, hit):  # a rewind: its findings are /findings again
                    current.make_current(engine, hit, context.clock())
                return ReviewResult(hit, True, elapsed_ms(), cache_key=review.cache_key(sha))
            stored, output = _review_miss(review, sha, hit, full=full)
            spent = (output.tokens_in, output.tokens_out)
            return ReviewResult(stored, False, elapsed_ms(), None, *spent, review.cache_key(sha))
    except (git.GitError, ReviewerError) as exc:
        reason = str(exc) or type(exc).__name__
        spent = (getattr(exc, "tokens_in", 0), getattr(exc, "tokens_out", 0))
        raise ReviewFailed(
            target.name, reason, None, spent, model_of(review.reviewer), elapsed_ms()
        ) from exc


@dataclass(frozen=True)
class _Review:
    """One review being made: where, of what, by which reviewer."""

    context: Context
    target: RepoTarget
    reviewer: Reviewer

    @cached_property
    def fingerprint(self) -> str:
        """Asked of the reviewer at every review: the lint reviewer's includes the
        version of each linter installed now (cheap: a program is asked once per file)."""
        return self.reviewer.fingerprint()

    def cache_key(self, sha: str) -> str:
        return history.review_cache_key(self.target.name, sha, self.fingerprint)


def _is_current(engine: Engine, hit: StoredReview) -> bool:
    """Whether the repository's findings are this review's already: the last review
    run answered with it (else a rewind or a configuration back in use replays it)."""
    return history.served_review_id(engine, hit.row["repo"]) == hit.id


def _worth_retrying(hit: StoredReview) -> bool:
    """A stored review lists files the model could not review for a reason that
    may not hold on a second try (an answer cut short): it is not reused."""
    return any(s.reason in RETRY_REASONS for s in hit.skipped_files)


def _started_after(hit: StoredReview, started_at: datetime) -> bool:
    created = hit.row["created_at"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=started_at.tzinfo)
    return bool(created >= started_at)


def _review_miss(
    review: _Review, sha: str, hit: StoredReview | None, *, full: bool
) -> tuple[StoredReview, Any]:
    """Review `sha` and store it. A full review of a commit reviewed as a delta replaces
    that review (`hit`) in place; so does a second try of a review whose answer was cut
    short (the same delta, from the same base, so every finding keeps its true state)."""
    started = time.perf_counter()
    engine, target, reviewer = review.context.engine, review.target, review.reviewer
    retry = hit if hit is not None and not full and _worth_retrying(hit) else None
    last, base = _base_of(review, sha, retry, full=full)
    limits = read_limits(review.context)
    review_input = prepare_review(target.path, base, sha, reviewer.budget_tokens(), limits)
    tree = git.tree_sizes(target.path, sha)
    carried = _carried(last.skipped_files if base and last else (), tree)
    scratch = checkout_dir(review.context.data_dir, target.name)
    review_input = replace(review_input, carried=carried, checkout=scratch)
    if isinstance(reviewer, LlmReviewer):
        check_budget(review.context, target.name, reviewer, review_input)
    output = reviewer.review(review_input)
    # A second try of a review adds its cost to the first's.
    spent = retry.row if retry is not None else {"prompt_tokens": 0, "completion_tokens": 0}
    prompt_tokens = spent["prompt_tokens"] + output.tokens_in
    full_tokens = 0  # a linter sends no tokens, so a full lint review costs none either
    if isinstance(reviewer, LlmReviewer):  # a full review's own cost is the truth
        full_tokens = prompt_tokens if base is None else reviewer.full_tree_tokens(review_input)
    # Every file not reviewed, with the reason; a linter on the whole tree lists all it
    # did not check itself (the diff's skip rules do not apply to it).
    diff_skipped = () if output.whole_tree else review_input.packed.skipped
    draft = store.ReviewDraft(
        repo=target.name,
        commit_sha=sha,
        base_sha=base,
        reviewer_fingerprint=review.fingerprint,
        reviewer_kind=reviewer.kind,
        model=output.model,
        kind="delta" if base else "full",
        commits_covered=git.count_commits(target.path, base, sha),
        prompt_tokens=prompt_tokens,
        completion_tokens=spent["completion_tokens"] + output.tokens_out,
        full_prompt_tokens=full_tokens,
        duration_ms=int((time.perf_counter() - started) * 1000),
        model_latency_ms=output.model_latency_ms,
        dropped_count=output.dropped_outside_diff,
        skipped_files=[*diff_skipped, *output.not_reviewed],
        created_at=review.context.clock(),
        reviewed_files=output.reviewed_files,
        notes=output.notes,
    )
    renamed = git.renames(target.path, base, sha) if base is not None else {}
    moved = line_mover(target.path, base, sha, review_input.changed_paths) if base else None
    # A reviewer that saw the whole commit did not report a base finding: it is fixed.
    fate = fixed if output.whole_tree else partial_fate(review_input.files, tree, moved)
    stored = store.save_review(
        engine,
        draft,
        output.findings,
        base_review_id=last.id if last is not None else None,
        fate=fate,
        renamed=renamed,
        moved=moved,
        replace_id=hit.id if hit is not None else None,
        whole_tree=output.whole_tree,
    )
    return stored, output


def _base_of(
    review: _Review, sha: str, retry: StoredReview | None, *, full: bool
) -> tuple[history.LastReview | None, str | None]:
    """The chain's review this one is compared with, and the commit it is a delta
    from (None: a full review). A second try is the same delta again, from the same
    base review; otherwise the chain's last review, a delta from it when its commit
    is an ancestor of `sha` and no full review was asked for."""
    engine, target = review.context.engine, review.target
    last = history.last_review(engine, target.name, review.fingerprint)
    if retry is not None:
        base = retry.row["base_sha"]
        before = (
            history.cached_review(engine, target.name, base, review.fingerprint) if base else None
        )
        if before is None or not base:
            return None, None
        return history.LastReview(before.id, base, before.skipped_files), base
    if last is not None and not full and _is_ancestor(target.path, last.commit_sha, sha):
        return last, last.commit_sha
    return last, None


def _carried(skipped: tuple[SkippedFile, ...], tree: dict[str, int]) -> tuple[str, ...]:
    """Files the base review could not review by mischance (over budget, a hunk too
    large, an answer cut short, a reviewer's own not_reviewed), still in the commit:
    the next review must review them. Files a skip rule or missing linter coverage
    leaves out stay out."""
    carried = [s.path for s in skipped if s.path in tree and by_mischance(s.reason)]
    return tuple(dict.fromkeys(carried))


def by_mischance(reason: str) -> bool:
    return reason not in SKIP_REASONS and not reason.startswith(NO_LINTER) and not is_inert(reason)


def _is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    try:
        return git.is_ancestor(repo, ancestor, descendant)
    except git.GitError:
        return False  # the old commit is gone (rewritten and collected): full review
