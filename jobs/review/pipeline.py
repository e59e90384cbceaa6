"""The pure steps from two commits to a reviewer's input, in one call."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jobs.review.bounded_diff import bounded_diff
from jobs.review.budget import SkippedFile, pack_files
from jobs.review.diff import FileDiff, file_skip_reason, parse_diff
from jobs.review.objects import ReadLimits, classify, tree_listing
from jobs.review.reviewers import ReviewInput


def prepare_review(
    repo: Path,
    base: str | None,
    head: str,
    budget_tokens: int,
    limits: ReadLimits | None = None,
) -> ReviewInput:
    """Diff base → head (base None: the whole tree, a full review), parse it and pack
    it into `budget_tokens`. `input.packed.skipped` lists every file left out: by the
    skip rules, and every symbolic link, submodule and file over the size limits
    (whose content is never read into a prompt)."""
    limits = limits or ReadLimits()
    files, dropped = reviewable_diff(repo, base, head, limits)
    _, not_files = classify(tree_listing(repo, head), limits.max_file_bytes)

    def skip(file: FileDiff) -> str | None:
        return not_files.get(file.path) or file_skip_reason(file)

    packed = pack_files(files, budget_tokens, skip)
    if dropped:
        packed = replace(packed, skipped=(*packed.skipped, *dropped))
    changed = (
        p for f in files if f.status in ("modified", "renamed") for p in (f.path, f.old_path)
    )
    return ReviewInput(
        repo=repo,
        head_sha=head,
        packed=packed,
        changed_paths=tuple(dict.fromkeys(p for p in changed if p)),
    )


def reviewable_diff(
    repo: Path, base: str | None, head: str, limits: ReadLimits
) -> tuple[list[FileDiff], list[SkippedFile]]:
    """(the diff's files within the limits, the files whose part was over them)."""
    diff = bounded_diff(repo, base, head, limits.max_file_bytes, limits.max_diff_bytes)
    dropped: list[SkippedFile] = []
    for header, reason in diff.dropped:
        for file in parse_diff(header):
            if file.status != "deleted":
                dropped.append(SkippedFile(file.path, reason))
    return parse_diff(diff.text), dropped
