"""The optimization page: the digest as one server-rendered HTML page (pure).

No framework and no build step: a style sheet, tables, the chart as an <img> when
the charts extra is installed, and a few lines of JavaScript that reload the page's
content every minute while the tab is visible. Every job, model and insight text
comes from configuration or run rows and is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

from bot.operator.page_assets import REFRESH_SECONDS, SCRIPT, STYLE
from jobs.core import text as words
from jobs.core.when import local_time
from jobs.core.work_slots import LINES, Waiting, WorkSlots
from jobs.digest.figures import Digest, time_saved_phrase
from jobs.digest.inputs import Period

_ON = ' class="on"'


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """Cells are already escaped HTML; no headers, no header row."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{thead}<tbody>{body}</tbody></table>"


def _change(pct: float | None, *, lower_is_better: bool = True) -> str:
    text = words.change(pct)
    if not text or pct is None or abs(pct) < 1:
        return _e(text)
    worse = pct > 0 if lower_is_better else pct < 0
    return f'<span class="{"worse" if worse else "better"}">{_e(text)}</span>'


def _points(delta: float | None) -> str:
    if delta is None or abs(delta) < 0.005:
        return ""  # no change worth a mark
    text = words.points(delta)
    return f'<span class="{"worse" if delta < 0 else "better"}">{_e(text)}</span>'


def _card(label: str, value: str, sub: str = "") -> str:
    sub_html = f'<div class="sub">{_e(sub)}</div>' if sub else ""
    return (
        f'<div class="card"><div class="label">{_e(label)}</div>'
        f'<div class="value">{_e(value)}</div>{sub_html}</div>'
    )


def _time_saved(digest: Digest) -> str:
    caching = digest.caching
    if not caching.cache_hits or caching.cached_runs_without_baseline == caching.cache_hits:
        return "-"
    return words.duration(caching.time_saved_ms)


def _cards(digest: Digest) -> str:
    caching = digest.caching
    success = (digest.runs - digest.failures) / digest.runs if digest.runs else None
    cards = [
        _card("Runs", words.count(digest.runs), f"{words.count(digest.failures)} failed"),
        _card(
            "Success rate",
            words.rate(success),
            f"{words.count(digest.runs - digest.failures)} of {words.count(digest.runs)} runs ok",
        ),
        _card(
            "Cache hit rate",
            words.rate(caching.hit_rate),
            f"{words.count(caching.cache_hits)} of {words.count(caching.runs)} runs",
        ),
        _card("Time saved", _time_saved(digest), "by cache hits"),
    ]
    if caching.full_review_tokens_in:
        used, full = caching.review_tokens_in, caching.full_review_tokens_in
        cards.append(
            _card(
                "Review tokens saved",
                words.rate(1 - used / full),
                f"{words.count(used)} sent of {words.count(full)} for full reviews",
            )
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def _rate_cell(rate: float | None, change: float | None) -> str:
    """A success rate and its change in points against the baseline."""
    return _e(words.rate(rate)) + " " + _points(change)


def _duration_cell(ms: float | None, change_pct: float | None) -> str:
    """A duration and its change in percent against the baseline."""
    return _e(words.duration(ms)) + " " + _change(change_pct)


def _table_section(
    section_id: str, title: str, headers: list[str], rows: list[list[str]], empty: str
) -> str:
    """A titled section with the table, or the muted `empty` line when no rows."""
    body = _table(headers, rows) if rows else f'<p class="muted">{_e(empty)}</p>'
    return f'<section id="{section_id}"><h2>{_e(title)}</h2>{body}</section>'


def _insights(digest: Digest) -> str:
    if not digest.insights:
        body = '<p class="muted">Nothing to flag: no regressions, drops or late jobs.</p>'
    else:
        items = "".join(
            f'<li class="{i.severity}"><span class="tag">{_e(i.severity)}</span>{_e(i.text)}</li>'
            for i in digest.insights
        )
        body = f'<ul class="insights">{items}</ul>'
    return f'<section id="insights"><h2>Key insights</h2>{body}</section>'


def _models(digest: Digest) -> str:
    rows = [
        [
            _e(m.model),
            _e(words.count(m.calls)),
            _rate_cell(m.success_rate, m.success_rate_change),
            _duration_cell(m.p50_ms, m.p50_change_pct),
            _e(words.duration(m.p95_ms)),
            _e(words.duration(m.stdev_ms)),
            _e("-" if m.tokens_per_s is None else f"{m.tokens_per_s:.0f}"),
        ]
        for m in digest.models
    ]
    headers = ["model", "calls", "success", "p50", "p95", "std dev", "tok/s"]
    empty = "No model calls in this period."
    return _table_section("models", "Model performance", headers, rows, empty)


def _caching(digest: Digest) -> str:
    caching = digest.caching
    lines = [f"<p>{_e(time_saved_phrase(caching).capitalize())}.</p>"]
    if caching.per_job:
        rows = [
            [
                _e(row.job),
                _e(words.count(row.runs)),
                _e(words.count(row.cache_hits)),
                _e(words.rate(row.hit_rate)),
            ]
            for row in caching.per_job
        ]
        lines.append(_table(["job", "runs", "cache hits", "hit rate"], rows))
    return f'<section id="caching"><h2>Caching</h2>{"".join(lines)}</section>'


def _reviews(digest: Digest) -> str:
    r = digest.reviews
    if not r.has_review_data and not r.cached:
        body = '<p class="muted">No reviews in this period.</p>'
    else:
        judged = r.helpful + r.not_helpful + r.false_positive
        rows = [
            ["reviews", _e(f"{r.full} full, {r.delta} delta, {r.cached} cached")],
            [
                "findings",
                _e(f"{r.findings_new} new, {r.findings_fixed} fixed, {r.findings_open} open"),
            ],
            ["suppressed", _e(words.count(r.suppressed))],
            ["muted rules", _e(words.count(r.muted))],
            [
                "feedback",
                _e(
                    f"{r.helpful} of {judged} helpful ({words.rate(r.helpful_share)}), "
                    f"{r.false_positive} false positive"
                    if judged
                    else "none yet"
                ),
            ],
        ]
        body = _table([], rows)
    return f'<section id="reviews"><h2>Reviews</h2>{body}</section>'


def _jobs(digest: Digest) -> str:
    rows = [
        [
            _e(row.job + (" (opsdesk)" if row.internal else "")),
            _e(words.count(row.runs)),
            _e(words.count(row.failures)),
            _rate_cell(row.success_rate, row.success_rate_change),
            _duration_cell(row.p50_ms, row.p50_change_pct),
            _duration_cell(row.p95_ms, row.p95_change_pct),
            f'<span class="{_e(row.health or "")}">{_e(row.health or "-")}</span>',
        ]
        for row in digest.jobs
    ]
    headers = ["job", "runs", "failed", "success", "p50", "p95", "health"]
    title = "Jobs: success and duration (worst first)"
    return _table_section("jobs", title, headers, rows, "No runs in this period.")


def _batching(digest: Digest) -> str:
    b = digest.batching
    if not b.batches:
        return ""
    text = (
        f"{b.batches} batches of {b.member_runs} runs saved {b.triggers_saved} triggers "
        f"and {b.posts_saved} posts."
    )
    return f'<section id="batching"><h2>Batching</h2><p>{_e(text)}</p></section>'


def _chart(period: Period, chart: bool) -> str:
    if not chart:
        return ""
    return (
        '<section id="chart"><h2>Jobs and the last 14 days</h2>'
        f'<img class="chart" src="chart.png?period={period}" width="640" height="480" '
        'alt="typical duration per job, flagged jobs highlighted, and runs per day for '
        'the last 14 days: ok, from cache, failed"></section>'
    )


def _outlook(lines: Sequence[str]) -> str:
    """The month's model usage against its budgets, with the forecast (jobs/usage)."""
    if not lines:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f'<section id="budget"><h2>Model usage this month</h2><ul>{items}</ul></section>'


def worker_lines(slots: WorkSlots, waiting: Sequence[Waiting], now: datetime) -> list[str]:
    """The operator page's words for the worker slots: how many are busy, and per
    line what waits and the longest wait."""
    running = slots.running()
    busy = sum(running.values())
    lines = [
        f"{words.plural(slots.workers, 'worker')}: {busy} busy"
        + (f" ({running['scheduled']} scheduled, {running['chat']} from chat)" if busy else "")
    ]
    for line in LINES:
        mine = [w for w in waiting if w.line == line]
        if mine:
            noun = "scheduled run" if line == "scheduled" else "run from chat"
            lines.append(
                f"{words.plural(len(mine), noun, noun.replace('run', 'runs', 1))} waiting, "
                f"the oldest ({mine[0].job}) for {words.span(now - mine[0].queued_at)}"
            )
    if not waiting:
        lines.append("nothing waits for a worker")
    return lines


def _workers(lines: Sequence[str]) -> str:
    """This process's worker slots: busy, and what waits for one and how long."""
    if not lines:
        return ""
    items = "".join(f"<li>{_e(line)}</li>" for line in lines)
    return f'<section id="workers"><h2>Workers now</h2><ul>{items}</ul></section>'


def render_page(
    digest: Digest,
    *,
    chart: bool,
    generated_at: datetime,
    outlook: Sequence[str] = (),
    workers: Sequence[str] = (),
) -> str:
    """The whole page for one digest; `chart` says whether /chart.png can draw;
    `outlook`: the month's budget and forecast lines; `workers`: the worker slots'."""
    period = digest.period
    nav = "".join(
        f'<a href="?period={p}"{_ON if p == period else ""}>{label}</a>'
        for p, label in (("day", "Last day"), ("week", "Last week"))
    )
    notes = "".join(f"<li>{_e(note)}</li>" for note in digest.notes)
    notes_html = f'<section id="notes"><h2>Notes</h2><ul>{notes}</ul></section>' if notes else ""
    start, end = (local_time(at, digest.timezone) for at in (digest.start, digest.end))
    window = f"{start} to {end}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>opsdesk: optimization</title><style>{STYLE}</style></head><body>"
        f'<header><h1>opsdesk optimization</h1><span class="period">{_e(window)}</span>'
        f"<nav>{nav}</nav></header><main>"
        f'<p class="summary">{_e(digest.summary)}</p>'
        + _cards(digest)
        + _insights(digest)
        + _chart(period, chart)
        + '<div class="grid2">'
        + _models(digest)
        + _caching(digest)
        + "</div><br>"
        + _workers(workers)
        + _outlook(outlook)
        + _jobs(digest)
        + _reviews(digest)
        + _batching(digest)
        + notes_html
        + f"<footer>Computed from the run records at "
        f"{_e(local_time(generated_at, digest.timezone))}; "
        f"refreshes every {REFRESH_SECONDS} s. JSON: "
        f'<a href="api/digest?period={period}">api/digest</a> · '
        '<a href="api/health">api/health</a> · <a href="metrics">metrics</a></footer>'
        f"</main>{SCRIPT}</body></html>"
    )
