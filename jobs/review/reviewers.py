"""What every reviewer takes and gives, whatever it is (linter or model).

A reviewer gets the packed diff of one commit and returns findings on that
commit's changed lines (a model) or on the whole commit (the linters, which then say
`whole_tree`). Its `fingerprint()` names everything that changes its
answer for the same commit; with (repo, head sha) it forms the review cache key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from jobs.review.budget import PackedDiff, SkippedFile
from jobs.review.diff import FileDiff
from jobs.review.finding import Finding


class ReviewerError(Exception):
    """A review could not be made; the message says why, for a human
    (e.g. "timed out after 120s", "model answered with no JSON"). `tokens_in` and
    `tokens_out` are what the calls made before it cost (the run row records them)."""

    tokens_in = 0
    tokens_out = 0


@dataclass(frozen=True)
class ReviewInput:
    """One commit's changes to review. `packed` holds the files that fit the budget
    `Reviewer.budget_tokens()` gave (every reviewable file for the model reviewer,
    which splits them across calls itself); files it skipped are not reviewed."""

    repo: Path
    head_sha: str
    packed: PackedDiff
    # Paths an earlier review of this chain could not review (its `not_reviewed`),
    # carried forward: the reviewer must review them at head_sha too, or list them again.
    carried: tuple[str, ...] = ()
    # opsdesk's scratch directory for this repository's checkout, reused between
    # reviews; None: a reviewer that needs a checkout makes a temporary one.
    checkout: Path | None = None
    # Old and new paths of every file the change modified or renamed, skipped ones
    # included (a linter still lints a generated file): where earlier findings moved.
    changed_paths: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[FileDiff, ...]:
        return self.packed.files

    @property
    def added_lines(self) -> dict[str, frozenset[int]]:
        """path → new-file line numbers added by the change."""
        return self.packed.added_lines


class ReviewerOutput(BaseModel):
    findings: list[Finding] = Field(default_factory=list)
    # Findings a model placed outside the diff's files or hunks, dropped.
    dropped_outside_diff: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    model: str | None = None
    model_latency_ms: int | None = None
    # Files this reviewer did not review, each with a reason a human reads
    # ("no linter for *.ts", "hunk larger than the model's context", "answer cut short").
    # The engine stores them with the review and carries them to the next one.
    not_reviewed: list[SkippedFile] = Field(default_factory=list)
    # True when `findings` is everything this reviewer finds in the whole commit (the
    # linters): the engine then compares it with the base review's whole set, and a
    # base finding not found again is fixed. False (a model reviewing the delta): base
    # findings in files it did not look at stay open.
    whole_tree: bool = False
    reviewed_files: int = 0  # files the reviewer covered (0: unknown or none)
    # What a reader must know about how the review went, one sentence each
    # ("critique pass answered without usable JSON in 1 call; …"). Shown in the
    # reply and --json.
    notes: list[str] = Field(default_factory=list)


class Reviewer(Protocol):
    kind: str  # "lint" | "llm"

    def fingerprint(self) -> str:
        """sha256 hex of what decides this reviewer's answer (kind, model, prompt
        version, rule set): the reviewer part of the review cache key."""
        ...

    def budget_tokens(self) -> int:
        """The token budget to pack the diff into before calling `review`."""
        ...

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        """Findings on the input's changed lines, or on the whole commit (`whole_tree`);
        raises ReviewerError."""
        ...


def reviewer_fingerprint(kind: str, model: str | None, options: dict[str, Any]) -> str:
    """Stable hash of a reviewer's identity; key order in `options` does not matter."""
    identity = {"kind": kind, "model": model, "options": options}
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def model_of(reviewer: Reviewer) -> str | None:
    """The model a model reviewer calls (None for the linters): what its run row names."""
    if reviewer.kind != "llm":
        return None
    return getattr(getattr(reviewer, "config", None), "model", None)
