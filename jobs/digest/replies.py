"""The digest and its alerts as people read them: plain-text lines and `Reply`s.

Here in jobs/ (not handlers/) because the scheduled digest posts too, and jobs never
import handlers. Job and model names come from configuration and run rows, so they
are not trusted: a renderer escapes these lines for its platform.
"""

from __future__ import annotations

from jobs.core.reply import Block, Image, Reply, ReplyField
from jobs.core.text import change, count, duration, plural, points, rate
from jobs.digest.figures import Digest, JobStats, time_saved_phrase
from jobs.digest.insights import AlertPost

# ---- the digest as lines ----------------------------------------------------------------

SEVERITY_MARK = {"critical": "!!", "warning": "!", "info": "i"}
MAX_JOB_LINES = 10


def _job_line(row: JobStats) -> str:
    parts = [f"{row.job}: {plural(row.runs, 'run')}"]
    if row.runs:
        ok = f"{rate(row.success_rate)} ok"
        if row.success_rate_change:
            ok += f" ({points(row.success_rate_change)})"
        parts.append(ok)
    if row.p50_ms is not None:
        parts.append(f"p50 {duration(row.p50_ms)} {change(row.p50_change_pct)}".rstrip())
        parts.append(f"p95 {duration(row.p95_ms)} {change(row.p95_change_pct)}".rstrip())
    if row.health and row.health != "up":
        parts.append(row.health)
    return "  " + ", ".join(parts)


def _caching_lines(digest: Digest) -> list[str]:
    caching = digest.caching
    line = (
        f"Caching: {rate(caching.hit_rate)} hit rate "
        f"({count(caching.cache_hits)}/{count(caching.runs)}), "
        f"{time_saved_phrase(caching)}"
    )
    if caching.full_review_tokens_in:
        used, full = caching.review_tokens_in, caching.full_review_tokens_in
        line += f"; review tokens {count(used)} of {count(full)} for full reviews"
        line += f" ({rate(1 - used / full)} saved)"
    lines = [line]
    lines += [
        f"  {row.job}: {rate(row.hit_rate)} ({row.cache_hits}/{row.runs})"
        for row in caching.per_job
    ]
    return lines


def _review_lines(digest: Digest) -> list[str]:
    r = digest.reviews
    if not r.has_review_data and not r.cached:
        return []
    line = (
        f"Reviews: {r.full} full, {r.delta} delta, {r.cached} cached; findings "
        f"{r.findings_new} new, {r.findings_fixed} fixed, {r.findings_open} open"
    )
    if r.suppressed:
        line += f", {r.suppressed} suppressed"
    judged = r.helpful + r.not_helpful + r.false_positive
    if judged:
        line += (
            f"; feedback {r.helpful}/{judged} helpful ({rate(r.helpful_share)}), "
            f"{r.false_positive} false positive{'s' if r.false_positive != 1 else ''}"
        )
    return [line]


def _job_lines(digest: Digest) -> list[str]:
    if not digest.jobs:
        return []
    flagged = [row for row in digest.jobs if not row.clean]
    clean = [row for row in digest.jobs if row.clean]
    lines = ["Jobs (worst first):"] + [_job_line(row) for row in flagged[:MAX_JOB_LINES]]
    if len(flagged) > MAX_JOB_LINES:
        lines.append(f"  ... {len(flagged) - MAX_JOB_LINES} more with failures")
    if clean:
        runs = sum(row.runs for row in clean)
        lines.append(f"  {plural(len(clean), 'job')} clean: {plural(runs, 'run')}, all ok")
    return lines


def _model_lines(digest: Digest) -> list[str]:
    if not digest.models:
        return []
    lines = ["Models:"]
    for m in digest.models:
        line = (
            f"  {m.model}: {plural(m.calls, 'call')}, {rate(m.success_rate)} ok, "
            f"p50 {duration(m.p50_ms)} p95 {duration(m.p95_ms)} "
            f"sd {duration(m.stdev_ms)}"
        )
        if m.tokens_per_s is not None:
            line += f", {m.tokens_per_s:.0f} tok/s"
        if m.p50_change_pct is not None:
            line += f" (p50 {change(m.p50_change_pct)})"
        lines.append(line)
    return lines


def digest_lines(digest: Digest) -> list[str]:
    """Summary, then insights, caching, reviews, jobs, models, batching and notes;
    sections with nothing to say are left out."""
    lines = [digest.summary]
    if digest.insights:
        lines.append("Insights:")
        lines += [f"  {SEVERITY_MARK[i.severity]} {i.text}" for i in digest.insights]
    if digest.runs:
        lines += _caching_lines(digest)
    lines += _review_lines(digest)
    lines += _job_lines(digest)
    lines += _model_lines(digest)
    b = digest.batching
    if b.batches:
        lines.append(
            f"Batching: {plural(b.batches, 'batch', 'batches')} of "
            f"{plural(b.member_runs, 'run')} saved {plural(b.triggers_saved, 'trigger')} "
            f"and {plural(b.posts_saved, 'post')}"
        )
    lines += [f"Note: {note}" for note in digest.notes]
    return lines


# ---- the digest and its alerts as Replies ----------------------------------------------

# Sections whose lines line up in columns; the rest read as prose.
_TABULAR = ("Caching:", "Jobs", "Models:")
_TITLE = {"day": "Daily digest", "week": "Weekly digest"}


def _sections(lines: list[str]) -> list[list[str]]:
    """Group lines into sections: a section starts at each unindented line."""
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("  ") and sections:
            sections[-1].append(line)
        else:
            sections.append([line])
    return sections


def digest_reply(
    digest: Digest, chart_png: bytes | None = None, page_url: str | None = None
) -> Reply:
    """Summary first, insights as prose, the tables monospaced, notes as small print,
    the 14-day chart attached when given, and a link to the optimization page when
    its public address is configured."""
    lines = digest_lines(digest)
    notes = [line.removeprefix("Note: ") for line in lines if line.startswith("Note: ")]
    body = [line for line in lines if not line.startswith("Note: ")]
    blocks = [
        Block(text="\n".join(section), monospace=section[0].startswith(_TABULAR))
        for section in _sections(body)
    ]
    image = None
    if chart_png is not None:
        end = digest.end.strftime("%Y-%m-%d")
        image = Image(
            png=chart_png,
            title=f"Last 14 days to {end}: median duration per job and cache hit rate",
            filename=f"digest-{end}.png",
        )
    fields = [
        ReplyField(
            label="Period",
            value=f"{digest.start:%Y-%m-%d %H:%M} to {digest.end:%Y-%m-%d %H:%M} UTC",
        )
    ]
    if page_url:
        fields.append(ReplyField(label="Page", value=f"{page_url}/?period={digest.period}"))
    return Reply(
        title=f"{_TITLE[digest.period]}: "
        + (plural(len(digest.insights), "insight") if digest.insights else "nothing to flag"),
        blocks=blocks,
        fields=fields,
        note=" ".join(notes),
        image=image,
        status="ok",
    )


def alert_reply(post: AlertPost) -> Reply:
    """One alert (with the numbers behind it) or its recovery."""
    if post.kind == "recovered":
        return Reply(title=f"Recovered: {post.job}", blocks=[Block(text=post.text)])
    severity = post.insight.severity if post.insight else "warning"
    return Reply(
        title=f"Alert ({severity}): {post.job} {post.metric.replace('_', ' ')}",
        blocks=[Block(text=post.text)],
        note="Posted when the state changes; it will not repeat daily while it stays on.",
        status="error" if severity == "critical" else "ok",
    )
