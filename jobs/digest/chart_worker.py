"""The worker process that draws the digest's chart, `python -m jobs.digest.chart_worker`:
a ChartRequest as JSON on stdin, the PNG on stdout. matplotlib is imported here only,
inside `draw_chart`, so it never lives in `opsdesk run`. Drawing uses the Agg backend
on a private `Figure` — no pyplot, no global state."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobs.core.text import duration
from jobs.digest.chart import ChartRequest, DayBar

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_SIZE_INCHES = (8.0, 6.0)
_DPI = 80  # 640 x 480: readable on a phone, a few tens of kB
# Colours a person tells apart (and that survive the common colour blindnesses).
_OK, _CACHED, _FAILED, _FLAGGED, _PLAIN = "#4c9f70", "#a6d5b6", "#d1495b", "#edae49", "#7f8fa6"


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
        label = duration(bar.typical_ms) if bar.typical_ms else ""
        if bar.flagged and bar.previous_ms:
            label += f" (was {duration(bar.previous_ms)})"
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
