"""The pure steps from two commits to a reviewer's input, in one call."""

from __future__ import annotations

from pathlib import Path

from jobs.review.budget import pack_files
from jobs.review.diff import parse_diff
from jobs.review.git import diff_text
from jobs.review.reviewers import ReviewInput


def prepare_review(repo: Path, base: str | None, head: str, budget_tokens: int) -> ReviewInput:
    """Diff base → head (base None: the whole tree, a full review), parse it and pack
    it into `budget_tokens`. `input.packed.skipped` lists every file left out."""
    files = parse_diff(diff_text(repo, base, head))
    changed = (
        p for f in files if f.status in ("modified", "renamed") for p in (f.path, f.old_path)
    )
    return ReviewInput(
        repo=repo,
        head_sha=head,
        packed=pack_files(files, budget_tokens),
        changed_paths=tuple(dict.fromkeys(p for p in changed if p)),
    )
