"""Draws the digest's chart in a short-lived process: `python -m jobs.digest.chart_worker`
reads the figure data as JSON on stdin and writes the PNG to stdout.

matplotlib (with numpy, fonts and pillow) costs tens of megabytes of memory that a
long-running process never gives back; here it lives only as long as one drawing.
Drawing uses the Agg backend on a private `Figure` — no pyplot, no global state.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from jobs.digest.chart import DEFAULT_DAYS, MAX_CHART_JOBS, chart_days, top_jobs

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_SIZE_INCHES = (8.0, 4.5)
_DPI = 80  # 640 x 360: readable in chat, a few tens of kB


def draw_chart(
    job_medians: Mapping[str, Mapping[date, float]],
    cache_hit_rate: Mapping[date, float],
    *,
    last_day: date | None = None,
    days: int = DEFAULT_DAYS,
    max_jobs: int = MAX_CHART_JOBS,
) -> bytes:
    """The PNG `jobs.digest.chart.render_chart` describes, drawn in this process."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

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

    axis_days = chart_days(last_day or max(known_days), days)
    positions = {day: index for index, day in enumerate(axis_days)}
    durations_ax, cache_ax = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]}
    )
    shown = top_jobs(job_medians, max_jobs)
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


def _request(raw: dict[str, Any]) -> dict[str, Any]:
    """The JSON request back into `draw_chart`'s arguments."""
    return {
        "job_medians": {
            job: {date.fromisoformat(day): float(ms) for day, ms in points.items()}
            for job, points in raw["job_medians"].items()
        },
        "cache_hit_rate": {
            date.fromisoformat(day): float(rate) for day, rate in raw["cache_hit_rate"].items()
        },
        "last_day": date.fromisoformat(raw["last_day"]) if raw.get("last_day") else None,
        "days": int(raw["days"]),
        "max_jobs": int(raw["max_jobs"]),
    }


def main() -> int:
    request = _request(json.loads(sys.stdin.buffer.read()))
    sys.stdout.buffer.write(draw_chart(**request))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
