"""The `review` job kind: a configured repository's scheduled review.

The runner records the run row from the figures handed back in the outcome; the post
is the same reply /review shows. Its buttons count in a chat once the outbox has
delivered it there (`record_shown`). With `review_branches`, each matching branch's
new head is then reviewed as `/review <repo> <branch>` reviews it and posted once per
head."""

from __future__ import annotations

import hashlib
import logging
from fnmatch import fnmatchcase

from jobs.context import Context
from jobs.core.reply import Reply
from jobs.review.branch_review import BranchAsk, run_branch_review
from jobs.review.branches import branch_names
from jobs.review.engine import run_review
from jobs.review.post import branch_reply, last_review_stands, review_post
from jobs.review.targets import ReviewFailed, resolve_target
from jobs.runs.job import JobOutcome, RunContext

log = logging.getLogger(__name__)

MAX_BRANCHES_A_RUN = 20  # the first ones by name; the others are left out, and logged


def run_review_job(ctx: RunContext) -> JobOutcome:
    context = ctx.context
    repo = ctx.spec.name.split(":", 1)[1]
    try:
        result = run_review(context, repo)
    except ReviewFailed as exc:
        spent_in, spent_out = exc.tokens_in or None, exc.tokens_out or None
        # Said in the post: the failure replaced nothing, the last review still stands.
        error = ". ".join(filter(None, [exc.reason, last_review_stands(context, repo)]))
        return JobOutcome("failed", error=error, tokens_in=spent_in, tokens_out=spent_out)
    columns = result.run_columns()
    reply = review_post(context, result)
    return JobOutcome(
        status=columns["status"],
        output=reply.title,
        tokens_in=columns["tokens_in"],
        tokens_out=columns["tokens_out"],
        model=columns["model"],
        model_latency_ms=columns["model_latency_ms"],
        review_id=columns["review_id"],
        reply=reply,
        posts_after=tuple(review_branch_heads(context, repo, ctx.trigger)),
    )


def review_branch_heads(context: Context, repo: str, trigger: str) -> list[tuple[str, Reply]]:
    """Review each branch matching the repository's `review_branches` (its base branch
    and branches that add no commit left out); what each adds, to be posted after the
    repository's review, once per head and merge base (the key): an unchanged branch is
    a cache hit whose post was written already."""
    config = context.config.repo(repo)
    if config is None or not config.review_branches:
        return []
    target = resolve_target(context, repo, allow_local=False)
    names = [
        name
        for name in branch_names(target.path)
        if name not in ("HEAD", config.branch)
        and any(fnmatchcase(name, pattern) for pattern in config.review_branches)
    ]
    if len(names) > MAX_BRANCHES_A_RUN:
        log.warning("%s: %d branches match review_branches; the first %d by name are reviewed",
                    repo, len(names), MAX_BRANCHES_A_RUN)  # fmt: skip
    posts = []
    for name in sorted(names)[:MAX_BRANCHES_A_RUN]:
        try:
            found = run_branch_review(context, repo, BranchAsk(branch=name), trigger=trigger)
        except ReviewFailed as exc:
            log.warning("review of %s branch %s failed: %s", repo, name, exc.reason)
            continue
        head = found.head
        if head.head_sha != head.merge_base:
            key = branch_post_key(repo, name, head.head_sha, head.merge_base)
            posts.append((key, branch_reply(context, found)))
    return posts


def branch_post_key(repo: str, branch: str, head_sha: str, merge_base: str) -> str:
    """One post per branch head and merge base (fixed length: names may be long)."""
    what = "\0".join((repo, branch, head_sha, merge_base)).encode()
    return "branch:" + hashlib.sha256(what).hexdigest()
