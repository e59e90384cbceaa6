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

from jobs.config.schema import LlmReviewerConfig
from jobs.review.bounded_diff import bounded_diff
from jobs.review.budget import PackedDiff, pack_files, render_file
from jobs.review.diff import DiffLine, FileDiff, Hunk, file_skip_reason, parse_diff
from jobs.review.llm.prompt import Message, prompt_overhead_tokens, review_messages
from jobs.review.llm.split import Plan, plan_pieces
from jobs.review.objects import ReadLimits, read_files
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

    def plan(self, files: Sequence[FileDiff], packed: PackedDiff | None = None) -> Plan:
        """Pieces that each fit one call. Files of `packed` were counted when packed;
        their counts are reused (any other file, a part or a whole file at head, is
        counted here)."""
        counted = {id(f): packed.file_tokens[f.path] for f in packed.files} if packed else {}

        def cost(file: FileDiff) -> int:
            tokens = counted.get(id(file))
            return tokens if tokens is not None else estimate_tokens(render_file(file))

        return plan_pieces(files, cost, self.diff_limit())

    def review_tokens(self, plan: Plan) -> int:
        """Prompt tokens the review pass of a plan would most likely cost (the typical
        calibration, comparable with a server's usage): each call's fixed prompt plus
        its piece of the diff."""
        fixed = estimate_message_tokens(review_messages(()))
        return sum(self.calibration.expected(fixed + cost) for cost in plan.costs)


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
    limit = ReadLimits().max_file_bytes
    for path, blob in read_files(repo, sha, paths, limit).items():
        if b"\0" in blob[:8192]:
            continue
        file = whole_file_diff(path, blob.decode("utf-8", "replace"))
        if file.hunks and file_skip_reason(file) is None:
            files.append(file)
    return files


def reviewable(repo: Path, base: str | None, head: str) -> PackedDiff:
    """The files a review of base → head sends to a model (base None: full)."""
    limits = ReadLimits()
    diff = bounded_diff(repo, base, head, limits.max_file_bytes, limits.max_diff_bytes)
    return pack_files(parse_diff(diff.text), 10**12)


def planned_tokens(sizer: PromptSizer, packed: PackedDiff) -> int:
    return sizer.review_tokens(sizer.plan(packed.files, packed))


def full_tree_tokens(repo: Path, head: str, sizer: PromptSizer) -> int:
    """What a full review of `head` would send in its review pass."""
    return planned_tokens(sizer, reviewable(repo, None, head))


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
    delta = planned_tokens(sizer, reviewable(repo, base, head))
    return delta, full_tree_tokens(repo, head, sizer)
