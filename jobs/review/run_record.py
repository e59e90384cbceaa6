"""The one job_runs row of a review made outside the runner — asked for in chat or on
the command line (`recorded_review`), or a branch review: cached, ok or failed, with
its duration, tokens and model. The engine writes no run row; the runner records the
scheduled `review` job's own."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from jobs.context import Context
from jobs.review.engine import run_review
from jobs.review.result import ReviewResult
from jobs.review.reviewers import Reviewer
from jobs.review.stored import StoredReview
from jobs.review.targets import ReviewFailed, UnknownRepo
from jobs.runs import records as runs
from jobs.usage import gate


def recorded_review(
    context: Context,
    repo_target: str,
    *,
    full: bool = False,
    trigger: str = "manual",
    allow_local: bool = False,
    reviewer: Reviewer | None = None,
) -> ReviewResult:
    """`run_review` as a run of its own, recorded in one job_runs row; the budgets
    hear of the tokens it spent. Raises ReviewFailed (an unknown repository records
    nothing: no review was tried)."""
    run = RunRecorder(context, trigger)
    try:
        result = run_review(
            context, repo_target, full=full, allow_local=allow_local, reviewer=reviewer
        )
    except UnknownRepo:
        raise
    except ReviewFailed as failure:
        failure.run_id = run.failed(failure)
        if failure.tokens_in or failure.tokens_out:
            gate.after_model_review(context, failure.repo)
        raise
    recorded = run.finished(result.repo, result)
    if result.tokens_in or result.tokens_out:
        gate.after_model_review(context, result.repo)
    return recorded


@dataclass
class RunRecorder:
    """Writes the one job_runs row of a review, `review:<repo>`, when it has ended."""

    context: Context
    trigger: str
    started: float = field(default_factory=time.perf_counter)
    started_at: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self.context.clock()

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def _record(self, repo: str, **columns: Any) -> int:
        return runs.record_finished(
            self.context.engine,
            job=f"review:{repo}",
            kind="review",
            trigger=self.trigger,
            started_at=self.started_at,
            finished_at=self.context.clock(),
            runner=self.context.runner_id,
            **columns,
        )

    def finished(self, repo: str, result: ReviewResult) -> ReviewResult:
        """The result, with the id of the row that records it."""
        said = {} if result.cache_hit else {"output": _summary(result.stored)}
        run_id = self._record(repo, cache_key=result.cache_key, **said, **result.run_columns())
        return replace(result, run_id=run_id)

    def failed(self, failure: ReviewFailed) -> int:
        return self._record(
            failure.repo,
            status="failed",
            cache_hit=False,
            error=failure.reason,
            duration_ms=self.elapsed_ms() if failure.duration_ms is None else failure.duration_ms,
            model=failure.model,
            tokens_in=failure.tokens_in or None,
            tokens_out=failure.tokens_out or None,
        )


def _summary(stored: StoredReview) -> str:
    row = stored.row
    return json.dumps({"review_id": stored.id, "kind": row["kind"], **stored.counts})
