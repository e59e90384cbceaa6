"""The one job_runs row of a review made outside the runner (chat, the CLI, a branch
review): cached, ok or failed, with its duration, tokens and model. The runner's
review job records its own row (jobs/running/runner.py) and asks for none here."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.context import Context
from jobs.review.result import ReviewResult
from jobs.review.reviewers import Reviewer
from jobs.review.stored import StoredReview
from jobs.runs import records as runs


@dataclass
class RunRecorder:
    """Writes the one job_runs row of a run_review call (none when not `enabled`)."""

    context: Context
    repo: str
    trigger: str
    batch_id: str | None
    enabled: bool
    started: float = field(default_factory=time.perf_counter)
    started_at: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.context.clock()

    def _elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def _record(self, **columns: Any) -> int | None:
        if not self.enabled:
            return None
        return runs.record_finished(
            self.context.engine,
            job=f"review:{self.repo}",
            kind="review",
            trigger=self.trigger,
            started_at=self.started_at,
            finished_at=self.context.clock(),
            runner=self.context.runner_id,
            batch_id=self.batch_id,
            **columns,
        )

    def cached(self, hit: StoredReview, key: str) -> ReviewResult:
        result = ReviewResult(hit, cache_hit=True, duration_ms=self._elapsed_ms())
        run_id = self._record(cache_key=key, **result.run_columns())
        return ReviewResult(hit, True, result.duration_ms, run_id)

    def done(self, stored: StoredReview, key: str, tokens_in: int, tokens_out: int) -> ReviewResult:
        result = ReviewResult(stored, False, self._elapsed_ms(), None, tokens_in, tokens_out)
        run_id = self._record(cache_key=key, output=_summary(stored), **result.run_columns())
        return ReviewResult(stored, False, result.duration_ms, run_id, tokens_in, tokens_out)

    def failed(
        self, reason: str, reviewer: Reviewer, tokens_in: int = 0, tokens_out: int = 0
    ) -> int | None:
        model = getattr(getattr(reviewer, "config", None), "model", None)
        return self._record(
            status="failed",
            cache_hit=False,
            error=reason,
            duration_ms=self._elapsed_ms(),
            model=model if reviewer.kind == "llm" else None,
            tokens_in=tokens_in or None,
            tokens_out=tokens_out or None,
        )


def _summary(stored: StoredReview) -> str:
    row = stored.row
    return json.dumps({"review_id": stored.id, "kind": row["kind"], **stored.counts})
