"""A review as its callers see it: the chat reply, the CLI's JSON, the scheduler's run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.review.branches import BranchHead
from jobs.review.budget import SkippedFile
from jobs.review.code_view import NO_VIEW, CodeView
from jobs.review.stored import ReviewedFinding, StoredReview


@dataclass(frozen=True)
class ReviewResult:
    """A review as the caller sees it. `kind` is full|delta (the stored review's);
    `cache_hit` says whether this call made it or replayed it. `findings` holds the
    new, open and fixed ones, sorted; suppressed ones (derived from feedback when the
    review was read, cached or fresh) are only counted."""

    stored: StoredReview
    cache_hit: bool
    duration_ms: int  # this call's wall time
    run_id: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cache_key: str | None = None  # what its run row is keyed by

    @property
    def review_id(self) -> int:
        return self.stored.id

    @property
    def repo(self) -> str:
        return str(self.stored.row["repo"])

    @property
    def commit_sha(self) -> str:
        return str(self.stored.row["commit_sha"])

    @property
    def base_sha(self) -> str | None:
        """The commit a delta was reviewed from; None for a full review."""
        base = self.stored.row["base_sha"]
        return None if base is None else str(base)

    @property
    def kind(self) -> str:
        """full or delta: the stored review's (a cache hit replays one)."""
        return str(self.stored.row["kind"])

    @property
    def findings(self) -> tuple[ReviewedFinding, ...]:
        return self.stored.findings

    @property
    def shown(self) -> list[ReviewedFinding]:
        """Findings a reader should act on: new and still open."""
        return [f for f in self.findings if f.status in ("new", "open")]

    @property
    def counts(self) -> dict[str, int]:
        """new / open / fixed / suppressed, suppression derived when this was read."""
        return self.stored.counts

    @property
    def skipped_files(self) -> tuple[SkippedFile, ...]:
        return self.stored.skipped_files

    @property
    def notes(self) -> tuple[str, ...]:
        return self.stored.notes

    @property
    def tokens(self) -> dict[str, int]:
        """Tokens this call sent and received, from the server's `usage` summed over
        every call and pass (0 for a cache hit or a linter): what its run row says."""
        if self.cache_hit:
            return {"prompt": 0, "completion": 0}
        return {"prompt": self.tokens_in, "completion": self.tokens_out}

    @property
    def full_tree_tokens(self) -> int:
        """Prompt tokens a full model review of this commit would send (0 for a linter)."""
        return int(self.stored.row["full_prompt_tokens"])

    def run_columns(self) -> dict[str, Any]:
        """What a job_runs row needs from this review (for callers that record it)."""
        row = self.stored.row
        return {
            "status": "cached" if self.cache_hit else "ok",
            "cache_hit": self.cache_hit,
            "review_id": self.review_id,
            "tokens_in": None if self.cache_hit else self.tokens_in or None,
            "tokens_out": None if self.cache_hit else self.tokens_out or None,
            "model": row["model"],
            "model_latency_ms": None if self.cache_hit else row["model_latency_ms"],
            "duration_ms": self.duration_ms,
        }

    def to_json(self, view: CodeView = NO_VIEW) -> dict[str, Any]:
        """The review as data; `view` adds each finding's link and snippet."""
        row = self.stored.row
        return {
            "review_id": self.review_id,
            "repo": row["repo"],
            "commit": row["commit_sha"],
            "base_commit": row["base_sha"],
            "kind": row["kind"],
            "cache_hit": self.cache_hit,
            "reviewer": row["reviewer_kind"],
            "model": row["model"],
            "commits_covered": row["commits_covered"],
            "counts": self.counts,
            "findings": [
                f.to_json() | {"url": view.url(f), "snippet": view.snippet(f) or None}
                for f in self.findings
            ],
            "skipped_files": [{"path": s.path, "reason": s.reason} for s in self.skipped_files],
            "reviewed_files": row.get("reviewed_files", 0),
            "notes": list(self.notes),
            "tokens": self.tokens,
            "full_tree_tokens": self.full_tree_tokens,
            # What the stored review cost when it was made (a cache hit costs nothing).
            "review_tokens": {
                "prompt": row["prompt_tokens"],
                "completion": row["completion_tokens"],
            },
            "duration_ms": self.duration_ms,
            "review_duration_ms": row["duration_ms"],
        }


@dataclass(frozen=True)
class BranchReview:
    """A review of what a branch or pull request adds: the review, which head against
    which base, and the repository's name as /review takes it."""

    result: ReviewResult
    head: BranchHead
    repo: str
