"""The digest and its alerts as people read them: plain-text lines and `Reply`s.

Here in jobs/ (not handlers/) because the scheduled digest posts too, and jobs never
import handlers. Job and model names come from configuration and run rows, so they
are not trusted: a renderer escapes these lines for its platform.
"""

from __future__ import annotations

from jobs.core.reply import Block, Image, Reply, ReplyField
from jobs.core.text import change, count, duration, plural, rate
from jobs.core.when import local_day, local_time, zone
from jobs.digest.figures import Digest, JobStats, time_saved_phrase
from jobs.digest.insights import AlertPost
from jobs.digest.story import story_lines, things_to_look_at

# ---- the digest as lines ----------------------------------------------------------------

MAX_JOB_LINES = 8
_TITLE = {"day": "Daily digest", "week": "Weekly digest"}


def _job_line(row: JobStats) -> str:
    parts = [plural(row.runs, "run")]
    if row.failures:
        parts.append(f"{row.failures} failed")
    if row.p50_ms is not None:
        typical = f"{duration(row.p50_ms)} typical"
        if row.p50_change_pct is not None and abs(row.p50_change_pct) >= 10:
            typical += f" ({change(row.p50_change_pct)})"
        parts.append(typical)
    if row.health in ("late", "down"):
        parts.append(row.health)
    return f"  {row.job}: " + ", ".join(parts)


def _job_lines(digest: Digest) -> list[str]:
    """The team's jobs that ran or need a look, worst first; the clean rest summed up.
    opsdesk's own jobs are left to the operator page."""
    rows = [r for r in digest.jobs if not r.internal and (r.runs or not r.clean)]
    if not rows:
        return []
    shown = [r for r in rows if not r.clean][:MAX_JOB_LINES]
    rest = [r for r in rows if r not in shown]
    if len(shown) + len(rest) <= MAX_JOB_LINES:
        shown, rest = rows, []
    lines = ["Jobs:"] + [_job_line(r) for r in shown]
    if rest:
        runs = sum(r.runs for r in rest)
        what = "all ok" if all(r.clean for r in rest) else f"{sum(r.failures for r in rest)} failed"
        lines.append(f"  + {plural(len(rest), 'more job')}: {plural(runs, 'run')}, {what}")
    return lines


def _figure_lines(digest: Digest) -> list[str]:
    """The figures behind the story, one line each."""
    lines: list[str] = []
    caching = digest.caching
    if digest.runs:
        line = f"Runs: {count(digest.runs)}, {count(digest.failures)} failed"
        if caching.cache_hits:
            line += f" · {rate(caching.hit_rate)} from cache, {time_saved_phrase(caching)}"
        lines.append(line)
    r = digest.reviews
    if r.has_review_data:
        line = (
            f"Findings: {count(r.findings_open)} open ({r.findings_new} new, "
            f"{r.findings_fixed} fixed this {digest.period})"
        )
        if r.suppressed:
            line += f", {r.suppressed} suppressed as false positive"
        if r.muted:
            line += f", {r.muted} of muted rules"
        lines.append(line)
    judged = r.helpful + r.not_helpful + r.false_positive
    if judged:
        lines.append(
            f"Feedback: {r.helpful} helpful, {r.not_helpful} not helpful, "
            f"{r.false_positive} false positive"
        )
    for m in digest.models:
        lines.append(
            f"Model {m.model}: {plural(m.calls, 'call')}, {rate(m.success_rate)} ok, "
            f"{duration(m.p50_ms)} typical"
        )
    return lines


def digest_lines(digest: Digest) -> list[str]:
    """The story first (what changed, what to look at), then the figures and the jobs.
    Statistics (thresholds, spreads, percentiles) stay on the operator page."""
    return story_lines(digest) + _figure_lines(digest) + _job_lines(digest)


# ---- the digest and its alerts as Replies ----------------------------------------------


def digest_title(digest: Digest) -> str:
    """'Daily digest, Mon 7 Dec: 2 to look at' — or 'all quiet'."""
    news = things_to_look_at(digest)
    day = local_day(digest.end, digest.timezone)
    return f"{_TITLE[digest.period]}, {day}: " + (f"{news} to look at" if news else "all quiet")


def digest_reply(
    digest: Digest, chart_png: bytes | None = None, page_url: str | None = None
) -> Reply:
    """The story, the figures, the jobs in columns, the chart attached when given, and
    a link to the operator page (where the statistics are) when it has an address."""
    blocks = [Block(text="\n".join(story_lines(digest)))]
    if figures := _figure_lines(digest):
        blocks.append(Block(text="\n".join(figures)))
    if jobs := _job_lines(digest):
        blocks.append(Block(text="\n".join(jobs), monospace=True))
    image = None
    if chart_png is not None:
        last_day = digest.end.astimezone(zone(digest.timezone)).strftime("%Y-%m-%d")
        image = Image(
            png=chart_png,
            title=f"Last 14 days to {local_day(digest.end, digest.timezone)}",
            filename=f"digest-{last_day}.png",
        )
    # The period is small print: the story leads, on Slack too (fields come first there).
    period = f"{local_time(digest.start, digest.timezone)} to "
    period += local_time(digest.end, digest.timezone)
    fields = []
    if page_url:
        fields.append(ReplyField(label="Details", value=f"{page_url}/?period={digest.period}"))
    chart_notes = [note for note in digest.notes if note.startswith("No chart")]
    return Reply(
        title=digest_title(digest),
        blocks=blocks,
        fields=fields,
        note=" ".join([period + ".", *chart_notes]),
        image=image,
        status="ok",
    )


def alert_reply(post: AlertPost) -> Reply:
    """One alert (with the numbers behind it) or its recovery."""
    if post.kind == "recovered":
        return Reply(title=f"✅ Recovered: {post.job}", blocks=[Block(text=post.text)])
    severity = post.insight.severity if post.insight else "warning"
    return Reply(
        title=f"{'❌' if severity == 'critical' else '⚠️'} {post.text}",
        note="Posted when the state changes; it will not repeat daily while it stays on.",
        status="error" if severity == "critical" else "ok",
    )
