"""The digest's chart, for a person on a phone: the period's typical duration per job
(the jobs the digest flags highlighted, failures marked, values on the bars; opsdesk's
own jobs left out) and the last 14 days' runs, ok, from the cache and failed.

`job_bars` and `day_bars` shape the data (pure); `render_chart` has it
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
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.core.when import zone
from jobs.digest.figures import Digest
from jobs.digest.inputs import DayCount
from storage.extras import require_extra

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_DAYS = 14
MAX_CHART_JOBS = 8
# Drawing takes well under a second once matplotlib is imported; its first run in a
# fresh home also builds a font cache.
WORKER_TIMEOUT_S = 120.0
# What the worker inherits: enough to run Python and find matplotlib's caches — no
# tokens (they stay in the process that needs them).
_WORKER_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "MPLCONFIGDIR", "SYSTEMROOT")
_SIZE_INCHES = (8.0, 6.0)
_DPI = 80  # 640 x 480: readable on a phone, a few tens of kB
# Colours a person tells apart (and that survive the common colour blindnesses).
_OK, _CACHED, _FAILED, _FLAGGED, _PLAIN = "#4c9f70", "#a6d5b6", "#d1495b", "#edae49", "#7f8fa6"


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

    figure = Figure(figsize=_SIZE_INCHES, dpi=_DPI)
    FigureCanvasAgg(figure)
    if not request.jobs and not any(bar.ok + bar.cached + bar.failed for bar in request.days):
        figure.text(0.5, 0.55, "no runs yet", ha="center", va="center", fontsize=22)
        figure.text(
            0.5,
            0.4,
            f"the chart shows the last {len(request.days)} days once jobs have run",
            ha="center",
            va="center",
            fontsize=11,
            color="0.4",
        )
        return _png(figure)
    jobs_ax, days_ax = figure.subplots(2, 1, gridspec_kw={"height_ratios": [1.2, 1]})
    _draw_jobs(jobs_ax, request)
    _draw_days(days_ax, request.days)
    # Fixed margins: tight_layout would measure every label and cost more than drawing.
    figure.subplots_adjust(left=0.2, right=0.97, top=0.93, bottom=0.07, hspace=0.45)
    return _png(figure)


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.1f}s" if ms < 60_000 else f"{ms / 60_000:.1f}m"


def _draw_jobs(axes: Any, request: ChartRequest) -> None:
    """Horizontal bars, one per job, its typical duration written on it; a flagged job
    in amber with what it was, failures in red."""
    jobs = list(request.jobs)[::-1]  # matplotlib draws the first bar at the bottom
    axes.set_title(f"{request.period_label}: typical duration per job", loc="left", fontsize=11)
    if not jobs:
        axes.text(0.5, 0.5, "no job did real work", ha="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    values = [bar.typical_ms / 1000 for bar in jobs]
    colours = [_FLAGGED if bar.flagged else _PLAIN for bar in jobs]
    edges = [_FAILED if bar.failures else colour for bar, colour in zip(jobs, colours, strict=True)]
    positions = range(len(jobs))
    axes.barh(positions, values, color=colours, edgecolor=edges, linewidth=2, height=0.6)
    axes.set_yticks(list(positions))
    axes.set_yticklabels([bar.job[:24] for bar in jobs], fontsize=9)
    tallest = max([*values, *((bar.previous_ms or 0) / 1000 for bar in jobs)], default=0.0)
    axes.set_xlim(0, max(tallest * 1.6, 1.0))
    axes.set_xlabel("seconds", fontsize=8)
    for index, bar in enumerate(jobs):
        label = _seconds(bar.typical_ms) if bar.typical_ms else ""
        if bar.flagged and bar.previous_ms:
            label += f" (was {_seconds(bar.previous_ms)})"
            axes.plot([bar.previous_ms / 1000] * 2, [index - 0.35, index + 0.35], color="0.2")
        axes.text(values[index], index, f" {label}", va="center", fontsize=8)
        if bar.failures:
            axes.text(
                values[index],
                index - 0.42,
                f" ✗ {bar.failures} of {bar.runs} failed",
                va="top",
                fontsize=8,
                color=_FAILED,
            )
    axes.grid(alpha=0.3, axis="x")


def _draw_days(axes: Any, days: Sequence[DayBar]) -> None:
    """Stacked bars per day — ok, from the cache, failed — the total on top and the
    failures in red."""
    axes.set_title(f"Last {len(days)} days: runs per day", loc="left", fontsize=11)
    positions = list(range(len(days)))
    ok = [bar.ok for bar in days]
    cached = [bar.cached for bar in days]
    failed = [bar.failed for bar in days]
    axes.bar(positions, ok, color=_OK, width=0.7, label="ok")
    axes.bar(positions, cached, bottom=ok, color=_CACHED, width=0.7, label="from cache")
    below = [a + b for a, b in zip(ok, cached, strict=True)]
    axes.bar(positions, failed, bottom=below, color=_FAILED, width=0.7, label="failed")
    totals = [a + b for a, b in zip(below, failed, strict=True)]
    top = max(totals, default=0)
    for index, total in enumerate(totals):
        if total:
            axes.text(index, total, str(total), ha="center", va="bottom", fontsize=7)
        if failed[index]:
            axes.text(
                index,
                total + top * 0.12,
                f"✗{failed[index]}",
                ha="center",
                fontsize=7,
                color=_FAILED,
            )
    axes.set_ylim(0, max(top * 1.35, 1))
    step = 2 if len(days) > 8 else 1
    ticks = list(range(len(days) - 1, -1, -step))[::-1]  # always label the last day
    axes.set_xticks(ticks)
    axes.set_xticklabels([days[i].day.strftime("%a %d") for i in ticks], fontsize=8)
    axes.set_xlim(-0.6, len(days) - 0.4)
    axes.legend(loc="upper left", fontsize=8, ncol=3, frameon=False)
    axes.grid(alpha=0.3, axis="y")


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
