"""A busy day of a 1,000,000-run history (about 11,000 runs a day over 90 days).
Its speed is measured in bench/digest.py; this pins what it computes."""

from datetime import timedelta

from jobs.digest.chart import job_bars
from jobs.digest.compute import compute_digest
from jobs.digest.inputs import DigestInputs, RunRecord, digest_window
from jobs.runs.baseline import DurationSample
from tests.jobs.digest.histories import T0

NOW = T0 + timedelta(days=30)
WINDOW = digest_window("day", NOW)
JOBS = 50


def busy_day(start_offset: timedelta, runs: int) -> list[RunRecord]:
    start = WINDOW.start - start_offset
    return [
        RunRecord(
            job=f"job{i % JOBS}",
            kind="command",
            status="cached" if i % 3 == 0 else "ok",
            started_at=start + timedelta(seconds=i * 86_400 / runs),
            duration_ms=100 if i % 3 == 0 else 10_000 + (i * 37) % 900,
            cache_hit=i % 3 == 0,
            model="m" if i % JOBS < 10 else None,
            model_latency_ms=800 + i % 300 if i % JOBS < 10 else None,
            tokens_out=200,
            batch_id=f"b{i // 5}" if i % JOBS > 40 else None,
        )
        for i in range(runs)
    ]


def test_a_busy_steady_day_gives_its_counts_and_no_insights() -> None:
    period = busy_day(timedelta(0), 11_000)
    previous = busy_day(timedelta(days=1), 11_000)
    baseline = [
        DurationSample(f"job{j}", WINDOW.start - timedelta(hours=h + 1), 10_000 + (h * 37) % 900)
        for j in range(JOBS)
        for h in range(300)
    ]
    digest = compute_digest(DigestInputs(period, baseline, previous), now=NOW)
    assert digest.runs == 11_000
    assert digest.insights == []  # the same steady work every day
    assert len(job_bars(digest)) == 8  # the slowest few, readable
