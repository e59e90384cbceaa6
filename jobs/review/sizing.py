"""How many model calls a diff takes and how many prompt tokens they send.

The model reviewer plans its calls with `PromptSizer`, and the "full tree" figure
a review is compared against comes from the same planner on the diff from the
empty tree: the same prompt builder, the same skip rules (no lock files, logos or
bytes of binaries), the same calibration. So a delta's tokens and a full review's
tokens are counted alike.

    delta, full = delta_and_full_tokens(repo, base_sha, head_sha)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jobs.config import LlmReviewerConfig
from jobs.review import git
from jobs.review.budget import pack_files, render_file
from jobs.review.diff import DiffLine, FileDiff, Hunk, file_skip_reason, parse_diff
from jobs.review.prompt import Message, prompt_overhead_tokens, review_messages
from jobs.review.split import Piece, Plan, plan_pieces
from jobs.review.tokens import Calibration, estimate_message_tokens, estimate_tokens


@dataclass(frozen=True)
class PromptSizer:
    """A model's context as the planner sees it: prompt plus answer reserve
    (`answer_tokens`, sent as max_tokens) never exceeds `context_tokens`."""

    config: LlmReviewerConfig
    calibration: Calibration

    def prompt_tokens(self, messages: Sequence[Message]) -> int:
        """The calibrated estimate of what the server will count."""
        return self.calibration.tokens(estimate_message_tokens(messages))

    def fits(self, messages: Sequence[Message]) -> bool:
        needed = self.prompt_tokens(messages) + self.config.answer_tokens
        return needed <= self.config.context_tokens

    def diff_limit(self) -> int:
        """Raw estimated tokens of rendered diff one review call can carry. With a
        critique pass, a third of the room stays free: that pass sends the piece
        again with the first pass's findings."""
        room = self.config.context_tokens - self.config.answer_tokens
        if self.config.passes >= 2:
            room -= room // 3
        return max(math.floor(room / self.calibration.factor) - prompt_overhead_tokens(), 0)

    def plan(self, files: Sequence[FileDiff]) -> Plan:
        return plan_pieces(files, lambda f: estimate_tokens(render_file(f)), self.diff_limit())

    def review_tokens(self, pieces: Sequence[Piece]) -> int:
        """Prompt tokens the review pass over these pieces would most likely cost
        (the typical calibration, comparable with a server's usage)."""
        expected = self.calibration.expected
        return sum(expected(estimate_message_tokens(review_messages(p))) for p in pieces)


def whole_file_diff(path: str, text: str) -> FileDiff:
    """A file at one commit as if it had just been added: every line new."""
    lines = text.splitlines()
    hunk = Hunk(1, len(lines), tuple(DiffLine("+", t, n) for n, t in enumerate(lines, 1)))
    return FileDiff(path, None, "added", False, (hunk,) if lines else ())


def files_at(repo: Path, sha: str, paths: Sequence[str]) -> list[FileDiff]:
    """Whole-file diffs of `paths` at `sha` that are worth reviewing; paths gone at
    `sha`, empty, or skipped by the usual rules (binary, generated …) are left out:
    nothing is left to review there."""
    files: list[FileDiff] = []
    for path, blob in git.read_blobs(repo, sha, list(paths)).items():
        if b"\0" in blob[:8192]:
            continue
        file = whole_file_diff(path, blob.decode("utf-8", "replace"))
        if file.hunks and file_skip_reason(file) is None:
            files.append(file)
    return files


def reviewable(repo: Path, base: str | None, head: str) -> list[FileDiff]:
    """The files a review of base → head sends to a model (base None: full)."""
    return list(pack_files(parse_diff(git.diff_text(repo, base, head)), 10**12).files)


def full_tree_tokens(repo: Path, head: str, sizer: PromptSizer) -> int:
    """What a full review of `head` would send in its review pass."""
    return sizer.review_tokens(sizer.plan(reviewable(repo, None, head)).pieces)


def delta_and_full_tokens(
    repo: Path,
    base: str,
    head: str,
    config: LlmReviewerConfig | None = None,
    calibration: Calibration | None = None,
) -> tuple[int, int]:
    """(prompt tokens of the review pass of a delta review base → head, the same
    for a full review of head), both planned and counted the same way."""
    settings = config or LlmReviewerConfig()
    sizer = PromptSizer(settings, calibration or Calibration(settings.model))
    delta = sizer.review_tokens(sizer.plan(reviewable(repo, base, head)).pieces)
    return delta, full_tree_tokens(repo, head, sizer)
