"""The digest's chart, for a person on a phone: the period's typical duration per job
(the jobs the digest flags highlighted, failures marked, values on the bars; opsdesk's
own jobs left out) and the last 14 days' runs, ok, from the cache and failed.

`job_bars` and `day_bars` shape the data (pure); `render_chart` has it drawn to PNG
bytes by a short-lived worker process (chart_worker.py), which reads the
`ChartRequest` as JSON on stdin and writes the PNG to stdout. matplotlib (with numpy,
fonts and pillow) costs tens of megabytes that a long-running process never gives
back: only the worker imports it, for as long as one drawing, never `opsdesk run`.
Without the 'charts' extra `render_chart` raises MissingExtra and the digest goes
without.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jobs.core.when import zone
from jobs.digest.figures import Digest
from jobs.digest.inputs import DayCount
from storage.extras import require_extra

DEFAULT_DAYS = 14
MAX_CHART_JOBS = 8
# Drawing takes well under a second once matplotlib is imported; its first run in a
# fresh home also builds a font cache.
WORKER_TIMEOUT_S = 120.0
# What the worker inherits: enough to run Python and find matplotlib's caches — no
# tokens (they stay in the process that needs them).
_WORKER_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "MPLCONFIGDIR", "SYSTEMROOT")


def last_chart_day(end: datetime, timezone: str = "UTC") -> date:
    """The last day (in `timezone`) a chart ending at `end` shows: the day `end` falls
    in, or the day before when `end` is exactly midnight."""
    return (end - timedelta(microseconds=1)).astimezone(zone(timezone)).date()


def chart_days(last_day: date, days: int = DEFAULT_DAYS) -> list[date]:
    return [last_day - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


@dataclass(frozen=True)
class JobBar:
    """One job's typical duration this period, and what the story says of it."""

    job: str
    typical_ms: float
    previous_ms: float | None  # the previous period's, when known
    runs: int
    failures: int
    flagged: bool  # the digest names it: slower, failing, late or down


@dataclass(frozen=True)
class DayBar:
    """One day's runs of the team's jobs: ok, served from the cache, failed."""

    day: date
    ok: int = 0
    cached: int = 0
    failed: int = 0


def job_bars(digest: Digest, limit: int = MAX_CHART_JOBS) -> list[JobBar]:
    """The team's jobs of the digest (opsdesk's own left out) that did real work or
    failed: flagged ones first, then the slowest; at most `limit`."""
    flagged = {insight.job for insight in digest.insights}
    # A slower job is measured against its 14-day typical duration, as the story says.
    was = {
        i.job: i.numbers["baseline_median_ms"] for i in digest.insights if i.metric == "duration"
    }
    bars = []
    for row in digest.jobs:
        if row.internal or not (row.p50_ms is not None or row.failures):
            continue
        previous = was.get(row.job)
        if previous is None and row.p50_ms is not None and row.p50_change_pct is not None:
            previous = row.p50_ms / (1 + row.p50_change_pct / 100)
        bars.append(
            JobBar(
                job=row.job,
                typical_ms=row.p50_ms or 0.0,
                previous_ms=previous,
                runs=row.runs,
                failures=row.failures,
                flagged=row.job in flagged or bool(row.failures),
            )
        )
    bars.sort(key=lambda bar: (not bar.flagged, -bar.typical_ms, bar.job))
    return bars[:limit]


def day_bars(counts: Iterable[DayCount], last_day: date, days: int = DEFAULT_DAYS) -> list[DayBar]:
    """Every one of the `days` days to `last_day`, with its runs (none: zeros)."""
    by_day = {day: DayBar(day) for day in chart_days(last_day, days)}
    for count in counts:
        bar = by_day.get(count.day)
        if bar is not None:
            by_day[count.day] = DayBar(
                count.day,
                bar.ok + count.runs - count.cache_hits - count.failures,
                bar.cached + count.cache_hits,
                bar.failed + count.failures,
            )
    return list(by_day.values())


@dataclass(frozen=True)
class ChartRequest:
    """What one chart shows: the period's jobs above, the days' runs below."""

    jobs: Sequence[JobBar]
    days: Sequence[DayBar]
    period_label: str = "Last day"  # what the upper panel's durations cover

    def to_json(self) -> str:
        return json.dumps(
            {
                "jobs": [asdict(bar) for bar in self.jobs],
                "days": [{**asdict(bar), "day": bar.day.isoformat()} for bar in self.days],
                "period_label": self.period_label,
            }
        )

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ChartRequest:
        return cls(
            jobs=[JobBar(**bar) for bar in raw["jobs"]],
            days=[DayBar(**{**bar, "day": date.fromisoformat(bar["day"])}) for bar in raw["days"]],
            period_label=str(raw["period_label"]),
        )


def render_chart(request: ChartRequest) -> bytes:
    """A PNG of the request: the period's typical duration per job above (flagged jobs
    in amber with what they were, failures in red, values on the bars), the days' runs
    below (ok, from cache, failed, the totals on the bars). With no data at all it is
    a valid PNG that says "no runs yet".

    Drawn in a worker process; MissingExtra without the 'charts' extra, RuntimeError
    when the worker fails."""
    require_extra("charts", "the digest's chart")
    done = subprocess.run(
        [sys.executable, "-m", "jobs.digest.chart_worker"],
        input=request.to_json().encode(),
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
