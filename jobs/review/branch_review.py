"""Review what a branch or a pull request adds, relative to its merge base with the
repository's branch.

    found = run_branch_review(context, "api", BranchAsk(branch="feature/x"))

The truth a user can check: the new findings are exactly the linters' findings at the
branch head minus those at the merge base (as multisets, by fingerprint), the fixed
ones the reverse — both commits linted in full checkouts (the merge base once: its
findings are kept). A model reviewer sees only the branch's diff (merge base → head),
so everything it reports is new. Cached by (repository, head, merge base, reviewer):
asking again is a cache hit, a push is a delta (branch_push.py). Nothing here touches
the repository's own history of reviews.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from jobs.context import Context
from jobs.core.text import plural
from jobs.review import git, history
from jobs.review.branch_push import (
    EarlierHead,
    carried_findings,
    earlier_head,
    keep_lint,
    kept_lint,
)
from jobs.review.branch_store import (
    Compared,
    branch_cache_fingerprint,
    branch_repo,
    save_branch_review,
)
from jobs.review.branches import (
    BranchHead,
    UnknownBranch,
    branch_commit,
    branch_head,
    request_commit,
)
from jobs.review.budget import SkippedFile
from jobs.review.engine import build_reviewer, lint_reviewer, read_limits
from jobs.review.finding import Finding, finding_identity, identity_fingerprint
from jobs.review.llm.reviewer import LlmReviewer
from jobs.review.lock import repo_lock
from jobs.review.pipeline import prepare_review
from jobs.review.result import BranchReview, ReviewResult
from jobs.review.reviewers import Reviewer, ReviewerError, ReviewerOutput, ReviewInput, model_of
from jobs.review.run_record import RunRecorder
from jobs.review.scratch import checkout_dir
from jobs.review.spending import FallbackReviewer, LintInstead, check_budget
from jobs.review.store import ReviewDraft
from jobs.review.targets import RepoTarget, ReviewFailed, resolve_target
from jobs.usage import gate


@dataclass(frozen=True)
class BranchAsk:
    """A branch by name, or a pull/merge request by number; `base` the branch it is
    compared with (default: the repository's configured branch)."""

    branch: str | None = None
    request: int | None = None
    base: str | None = None


def run_branch_review(
    context: Context,
    repo_target: str,
    ask: BranchAsk,
    *,
    trigger: str = "manual",
    allow_local: bool = False,
    reviewer: Reviewer | None = None,
) -> BranchReview:
    """Raises ReviewFailed (UnknownRepo; an unknown branch or request names the closest).
    A model review checks the budgets first, as a repository's review does."""
    target = resolve_target(context, repo_target, allow_local=allow_local)
    try:
        return _branch_review(context, target, ask, trigger, reviewer)
    except LintInstead as instead:
        fallback = FallbackReviewer(lint_reviewer(context, target), instead.reason)
        return _branch_review(context, target, ask, trigger, fallback)


def _branch_review(
    context: Context, target: RepoTarget, ask: BranchAsk, trigger: str, reviewer: Reviewer | None
) -> BranchReview:
    reviewer = reviewer or build_reviewer(context, target)
    run = RunRecorder(context, trigger)
    try:
        with repo_lock(context, target.name):
            head = _resolve(target, ask)
            fingerprint = branch_cache_fingerprint(reviewer.fingerprint(), head.merge_base)
            stored_as = branch_repo(target.name)
            key = history.review_cache_key(stored_as, head.head_sha, fingerprint)
            hit = history.cached_review(context.engine, stored_as, head.head_sha, fingerprint)
            if hit is not None:
                cached = ReviewResult(hit, True, run.elapsed_ms(), cache_key=key)
                return BranchReview(run.finished(target.name, cached), head, target.name)
            started = time.perf_counter()
            compared, output, skipped = _compare(context, target, reviewer, head, fingerprint)
            draft = _draft(context, target, reviewer, head, fingerprint, output, started)
            draft = replace(draft, skipped_files=[*skipped, *output.not_reviewed])
            stored = save_branch_review(context.engine, target.name, draft, compared)
            spent = (output.tokens_in, output.tokens_out)
            made = ReviewResult(stored, False, run.elapsed_ms(), None, *spent, key)
            done = run.finished(target.name, made)
        if output.tokens_in or output.tokens_out:
            gate.after_model_review(context, target.name)
        return BranchReview(done, head, target.name)
    except UnknownBranch as exc:
        raise ReviewFailed(target.name, str(exc)) from None
    except (git.GitError, ReviewerError) as exc:
        reason = str(exc) or type(exc).__name__
        spent = (getattr(exc, "tokens_in", 0), getattr(exc, "tokens_out", 0))
        failure = ReviewFailed(target.name, reason, None, spent, model_of(reviewer))
        failure.run_id = run.failed(failure)
        raise failure from exc


def _resolve(target: RepoTarget, ask: BranchAsk) -> BranchHead:
    if target.url is not None:
        git.ensure_clone(target.url, target.path)
    if ask.request is not None:
        head_sha = request_commit(target.path, ask.request, target.url)
        label = f"#{ask.request}"
    else:
        assert ask.branch is not None
        head_sha = branch_commit(target.path, ask.branch)
        label = ask.branch
    return branch_head(target.path, head_sha, label, ask.base or target.ref)


def _compare(
    context: Context, target: RepoTarget, reviewer: Reviewer, head: BranchHead, fingerprint: str
) -> tuple[list[Compared], ReviewerOutput, tuple[SkippedFile, ...]]:
    """The branch's findings, the reviewer's output at its head and the files of the
    branch's diff a model did not see (the skip rules, sizes). A push to a branch a
    model reviewed before is a delta from that review (branch_push.py)."""
    if head.merge_base == head.head_sha:
        empty = ReviewerOutput(notes=[f"{head.label} adds no commit to {head.base_label}"])
        return [], empty, ()
    limits = read_limits(context)
    scratch = checkout_dir(context.data_dir, target.name)
    budget = reviewer.budget_tokens()

    def prepared(base: str, sha: str) -> ReviewInput:
        made = replace(prepare_review(target.path, base, sha, budget, limits), checkout=scratch)
        if isinstance(reviewer, LlmReviewer):
            check_budget(context, target.name, reviewer, made)
        return made

    if reviewer.kind == "llm":
        stored_as = branch_repo(target.name)
        earlier = earlier_head(context.engine, stored_as, fingerprint, target.path, head.head_sha)
        if earlier is not None:
            return _pushed(reviewer, earlier, prepared(earlier.commit_sha, head.head_sha))
    branch = prepared(head.merge_base, head.head_sha)
    at_head = reviewer.review(branch)
    if not at_head.whole_tree:  # a model saw the branch's diff only: all of it is new
        found = [Compared(f, fp, "new") for f, fp in fingerprinted(at_head.findings)]
        return found, at_head, branch.packed.skipped
    # The linters: the merge base's findings as kept when a review linted it before.
    linted_as = reviewer.fingerprint()
    at_base = kept_lint(scratch, head.merge_base, linted_as)
    if at_base is None:
        at_base = reviewer.review(prepared(head.head_sha, head.merge_base)).findings
        keep_lint(scratch, head.merge_base, linted_as, at_base)
    return linter_difference(at_head.findings, at_base), at_head, ()


def _pushed(
    reviewer: Reviewer, earlier: EarlierHead, push: ReviewInput
) -> tuple[list[Compared], ReviewerOutput, tuple[SkippedFile, ...]]:
    """A model's review of what a push changed, with the earlier findings it left."""
    output = reviewer.review(push)
    carried, untouched = carried_findings(earlier, push, output)
    found = [Compared(f, fp, "new") for f, fp in fingerprinted([*carried, *output.findings])]
    note = (
        f"reviewed what was pushed since {earlier.commit_sha[:12]}; "
        f"{plural(len(carried), 'earlier finding')} carried over"
    )
    output = output.model_copy(update={"notes": [*output.notes, note]})
    return found, output, (*push.packed.skipped, *untouched)


def fingerprinted(findings: Sequence[Finding]) -> list[tuple[Finding, str]]:
    """Each finding with its fingerprint: identical ones in one file counted by line
    (the first 0, the next 1 …), as the repository's reviews count them."""
    ordered = sorted(findings, key=lambda f: (f.path, f.cell or 0, f.line))
    seen: Counter[str] = Counter()
    out = []
    for found in ordered:
        identity = finding_identity(found.path, found.category, found.message)
        out.append((found, identity_fingerprint(identity, seen[identity])))
        seen[identity] += 1
    return out


def linter_difference(at_head: Sequence[Finding], at_base: Sequence[Finding]) -> list[Compared]:
    """new: at the head and not at the merge base; fixed: the reverse (multisets by
    fingerprint: a second identical finding in a file is new even when the first is not)."""
    head_fps = fingerprinted(at_head)
    base_fps = fingerprinted(at_base)
    in_head = {fp for _f, fp in head_fps}
    in_base = {fp for _f, fp in base_fps}
    new = [Compared(f, fp, "new") for f, fp in head_fps if fp not in in_base]
    return new + [Compared(f, fp, "fixed") for f, fp in base_fps if fp not in in_head]


def _draft(
    context: Context,
    target: RepoTarget,
    reviewer: Reviewer,
    head: BranchHead,
    fingerprint: str,
    output: ReviewerOutput,
    started: float,
) -> ReviewDraft:
    return ReviewDraft(
        repo=branch_repo(target.name),
        commit_sha=head.head_sha,
        base_sha=head.merge_base,
        reviewer_fingerprint=fingerprint,
        reviewer_kind=reviewer.kind,
        model=output.model,
        kind="branch",
        commits_covered=git.count_commits(target.path, head.merge_base, head.head_sha),
        prompt_tokens=output.tokens_in,
        completion_tokens=output.tokens_out,
        full_prompt_tokens=0,
        duration_ms=int((time.perf_counter() - started) * 1000),
        model_latency_ms=output.model_latency_ms,
        dropped_count=output.dropped_outside_diff,
        skipped_files=list(output.not_reviewed),
        created_at=context.clock(),
        reviewed_files=output.reviewed_files,
        notes=output.notes,
    )
