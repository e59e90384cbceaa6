"""Synthetic run histories, and the slicing a storage layer would do for one digest."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.digest.inputs import Period, RunRecord, digest_window
from jobs.runs.baseline import DurationSample
from tests.support.rows import run_row

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def run(job: str, at: datetime, duration_s: float, **fields: Any) -> RunRecord:
    """A run as the digest reads it: the JobRun row `run_row` writes, in memory."""
    row = run_row(job, at, duration_s, **fields)
    del row["finished_at"]
    return RunRecord(**row)


def daily_runs(job: str, day: int, durations_s: Iterable[float]) -> list[RunRecord]:
    """Runs of `job` on day `day` after T0, one per hour from 01:00."""
    start = T0 + timedelta(days=day)
    return [run(job, start + timedelta(hours=1 + i), d) for i, d in enumerate(durations_s)]


@dataclass(frozen=True)
class DigestInputs:
    period_runs: list[RunRecord]
    baseline_runs: list[DurationSample]
    previous_period_runs: list[RunRecord]
    now: datetime


def slice_history(
    history: Sequence[RunRecord], now: datetime, period: Period = "day"
) -> DigestInputs:
    """What the storage queries return for the digest ending at `now`."""
    w = digest_window(period, now)
    return DigestInputs(
        period_runs=[r for r in history if w.start <= r.started_at < w.end],
        baseline_runs=[
            DurationSample(r.job, r.started_at, r.duration_ms)  # type: ignore[arg-type]
            for r in history
            if w.baseline_start <= r.started_at < w.start and r.did_work
        ],
        previous_period_runs=[r for r in history if w.previous_start <= r.started_at < w.start],
        now=now,
    )


def digest_time(day: int) -> datetime:
    """The digest posted at 00:00 after day `day`, covering that day."""
    return T0 + timedelta(days=day + 1)
