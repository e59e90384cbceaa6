"""The digest's chart: daily median duration per job and the daily cache hit rate.

`daily_medians` and `daily_hit_rates` shape the data (pure); `render_chart` has it
drawn to PNG bytes by a short-lived worker process (`jobs.digest.chart_worker`), so
matplotlib's tens of megabytes never stay in the long-running `opsdesk run`. Without
the 'charts' extra `render_chart` raises MissingExtra and the digest goes without.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path

from jobs.digest.model import DayCount, DurationSample, RunRecord
from jobs.digest.stats import median
from storage.extras import require_extra

DEFAULT_DAYS = 14
MAX_CHART_JOBS = 6
# Drawing takes well under a second once matplotlib is imported; its first run in a
# fresh home also builds a font cache.
WORKER_TIMEOUT_S = 120.0
# What the worker inherits: enough to run Python and find matplotlib's caches — no
# tokens (they stay in the process that needs them).
_WORKER_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "MPLCONFIGDIR", "SYSTEMROOT")


def last_chart_day(end: datetime) -> date:
    """The last (UTC) day a chart ending at `end` shows: the day `end` falls in,
    or the day before when `end` is exactly midnight."""
    return (end - timedelta(microseconds=1)).date()


def chart_days(last_day: date, days: int = DEFAULT_DAYS) -> list[date]:
    return [last_day - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def daily_medians(
    samples: Iterable[DurationSample],
    period_runs: Iterable[RunRecord] = (),
    *,
    end: datetime,
    days: int = DEFAULT_DAYS,
) -> dict[str, dict[date, float]]:
    """Median duration of successful, non-cached runs per job and UTC day, over the
    `days` days ending at `end`. Samples and period runs may overlap in time only if
    they are different runs; pass the baseline samples and the period's runs."""
    first = last_chart_day(end) - timedelta(days=days - 1)
    by_day: dict[str, dict[date, list[float]]] = defaultdict(lambda: defaultdict(list))
    for job, started_at, duration_ms in samples:
        if started_at < end and (day := started_at.date()) >= first:
            by_day[job][day].append(duration_ms)
    for run in period_runs:
        if run.did_work and run.started_at < end and (day := run.started_at.date()) >= first:
            by_day[run.job][day].append(run.duration_ms)  # type: ignore[arg-type]
    result: dict[str, dict[date, float]] = {}
    for job, days_of_job in by_day.items():
        result[job] = {day: float(median(values) or 0.0) for day, values in days_of_job.items()}
    return result


def daily_hit_rates(counts: Iterable[DayCount]) -> dict[date, float]:
    """Cache hit rate per day from (day, runs, cache_hits) rows; days without runs are left out."""
    runs: dict[date, int] = defaultdict(int)
    hits: dict[date, int] = defaultdict(int)
    for day, day_runs, day_hits in counts:
        runs[day] += day_runs
        hits[day] += day_hits
    return {day: hits[day] / runs[day] for day in runs if runs[day]}


def top_jobs(job_medians: Mapping[str, Mapping[date, float]], limit: int) -> list[str]:
    # The slowest jobs matter most on a duration chart; ties by name for stable output.
    ranked = sorted(
        (job for job, points in job_medians.items() if points),
        key=lambda job: (-(median(job_medians[job].values()) or 0.0), job),
    )
    return ranked[:limit]


def render_chart(
    job_medians: Mapping[str, Mapping[date, float]],
    cache_hit_rate: Mapping[date, float],
    *,
    last_day: date | None = None,
    days: int = DEFAULT_DAYS,
    max_jobs: int = MAX_CHART_JOBS,
) -> bytes:
    """A PNG of the last `days` days ending at `last_day` (default: the latest day in
    the data): median duration per job (the slowest `max_jobs`) above, cache hit rate
    below. With no data at all it is a valid PNG that says "no runs yet".

    Drawn in a worker process; MissingExtra without the 'charts' extra, RuntimeError
    when the worker fails."""
    require_extra("charts", "the digest's chart")
    request = {
        "job_medians": {
            job: {day.isoformat(): ms for day, ms in points.items()}
            for job, points in job_medians.items()
        },
        "cache_hit_rate": {day.isoformat(): rate for day, rate in cache_hit_rate.items()},
        "last_day": last_day.isoformat() if last_day else None,
        "days": days,
        "max_jobs": max_jobs,
    }
    done = subprocess.run(
        [sys.executable, "-m", "jobs.digest.chart_worker"],
        input=json.dumps(request).encode(),
        capture_output=True,
        env=worker_env(),
        timeout=WORKER_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.startswith(b"\x89PNG"):
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"the chart worker failed (exit {done.returncode}): {last[0]}")
    return done.stdout


def worker_env() -> dict[str, str]:
    """The chart worker's environment: what Python and matplotlib need, no tokens."""
    env = {name: os.environ[name] for name in _WORKER_ENV if name in os.environ}
    # The worker imports this package however this process found it (installed,
    # editable, or a source tree on sys.path).
    source_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))
    return env
