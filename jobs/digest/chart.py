"""The digest's chart: daily median duration per job and the daily cache hit rate.

`daily_medians` and `daily_hit_rates` shape the data (pure); `render_chart` has it
drawn to PNG bytes by a short-lived worker process, `python -m jobs.digest.chart`,
which reads the `ChartRequest` as JSON on stdin and writes the PNG to stdout.
matplotlib (with numpy, fonts and pillow) costs tens of megabytes that a long-running
process never gives back: it is imported only inside `draw_chart`, so it lives in the
worker, for as long as one drawing, and never in `opsdesk run`. Drawing uses the Agg
backend on a private `Figure` — no pyplot, no global state. Without the 'charts'
extra `render_chart` raises MissingExtra and the digest goes without.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.digest.inputs import DayCount, DurationSample, RunRecord
from jobs.digest.stats import median
from storage.extras import require_extra

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_DAYS = 14
MAX_CHART_JOBS = 6
# Drawing takes well under a second once matplotlib is imported; its first run in a
# fresh home also builds a font cache.
WORKER_TIMEOUT_S = 120.0
# What the worker inherits: enough to run Python and find matplotlib's caches — no
# tokens (they stay in the process that needs them).
_WORKER_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "MPLCONFIGDIR", "SYSTEMROOT")
_SIZE_INCHES = (8.0, 4.5)
_DPI = 80  # 640 x 360: readable in chat, a few tens of kB


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


@dataclass(frozen=True)
class ChartRequest:
    """What one chart shows: the last `days` days ending at `last_day` (default: the
    latest day in the data), the slowest `max_jobs` jobs."""

    job_medians: Mapping[str, Mapping[date, float]]
    cache_hit_rate: Mapping[date, float]
    last_day: date | None = None
    days: int = DEFAULT_DAYS
    max_jobs: int = MAX_CHART_JOBS

    def to_json(self) -> str:
        return json.dumps(
            {
                "job_medians": {
                    job: {day.isoformat(): ms for day, ms in points.items()}
                    for job, points in self.job_medians.items()
                },
                "cache_hit_rate": {day.isoformat(): r for day, r in self.cache_hit_rate.items()},
                "last_day": self.last_day.isoformat() if self.last_day else None,
                "days": self.days,
                "max_jobs": self.max_jobs,
            }
        )

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ChartRequest:
        return cls(
            job_medians={
                job: {date.fromisoformat(day): float(ms) for day, ms in points.items()}
                for job, points in raw["job_medians"].items()
            },
            cache_hit_rate={
                date.fromisoformat(day): float(r) for day, r in raw["cache_hit_rate"].items()
            },
            last_day=date.fromisoformat(raw["last_day"]) if raw.get("last_day") else None,
            days=int(raw["days"]),
            max_jobs=int(raw["max_jobs"]),
        )


def render_chart(request: ChartRequest) -> bytes:
    """A PNG of the request's days: median duration per job (the slowest few) above,
    cache hit rate below. With no data at all it is a valid PNG that says "no runs yet".

    Drawn in a worker process; MissingExtra without the 'charts' extra, RuntimeError
    when the worker fails."""
    require_extra("charts", "the digest's chart")
    done = subprocess.run(
        [sys.executable, "-m", "jobs.digest.chart"],
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


# ---- the worker ---------------------------------------------------------------------------


def draw_chart(request: ChartRequest) -> bytes:
    """The PNG `render_chart` describes, drawn in this process (the worker)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    job_medians, cache_hit_rate = request.job_medians, request.cache_hit_rate
    days = request.days
    known_days = [d for points in job_medians.values() for d in points] + list(cache_hit_rate)
    figure = Figure(figsize=_SIZE_INCHES, dpi=_DPI)
    FigureCanvasAgg(figure)
    if not known_days:
        figure.text(0.5, 0.55, "no runs yet", ha="center", va="center", fontsize=22)
        figure.text(
            0.5,
            0.4,
            f"the chart shows the last {days} days once jobs have run",
            ha="center",
            va="center",
            fontsize=11,
            color="0.4",
        )
        return _png(figure)

    axis_days = chart_days(request.last_day or max(known_days), days)
    positions = {day: index for index, day in enumerate(axis_days)}
    durations_ax, cache_ax = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]}
    )
    shown = top_jobs(job_medians, request.max_jobs)
    for job in shown:
        points = sorted(
            (positions[d], ms / 1000) for d, ms in job_medians[job].items() if d in positions
        )
        if points:
            xs, ys = zip(*points, strict=True)
            durations_ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.5, label=job)
    hidden = len([job for job, points in job_medians.items() if points]) - len(shown)
    title = f"Last {days} days: median duration per job"
    durations_ax.set_title(title + (f" (slowest {len(shown)}, {hidden} more)" if hidden else ""))
    durations_ax.set_ylabel("seconds")
    tallest = max((ms for job in shown for ms in job_medians[job].values()), default=0.0)
    # Head-room above the lines for the legend.
    durations_ax.set_ylim(0, max(tallest / 1000 * 1.4, 1.0))
    durations_ax.grid(alpha=0.3)
    if shown:
        durations_ax.legend(loc="upper left", fontsize=8, ncol=min(3, len(shown)), frameon=False)
    else:
        durations_ax.text(
            0.5, 0.5, "no successful runs", ha="center", transform=durations_ax.transAxes
        )

    rates = sorted((positions[d], r * 100) for d, r in cache_hit_rate.items() if d in positions)
    if rates:
        xs, ys = zip(*rates, strict=True)
        cache_ax.bar(xs, ys, color="tab:green", alpha=0.7, width=0.6)
    cache_ax.set_ylim(0, 100)
    cache_ax.set_ylabel("cache hit %")
    cache_ax.grid(alpha=0.3, axis="y")
    step = 2 if days > 8 else 1
    ticks = list(range(days - 1, -1, -step))[::-1]  # always label the last day
    cache_ax.set_xticks(ticks)
    cache_ax.set_xticklabels([axis_days[i].strftime("%m-%d") for i in ticks], fontsize=8)
    cache_ax.set_xlim(-0.5, days - 0.5)
    # Fixed margins: tight_layout would measure every label and cost more than drawing.
    figure.subplots_adjust(left=0.08, right=0.98, top=0.92, bottom=0.08, hspace=0.12)
    return _png(figure)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def main() -> int:
    """The worker: a ChartRequest as JSON on stdin, the PNG on stdout."""
    request = ChartRequest.from_json(json.loads(sys.stdin.buffer.read()))
    sys.stdout.buffer.write(draw_chart(request))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
