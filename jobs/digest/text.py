"""digest_lines: the digest as compact plain-text lines, summary first.

A renderer puts these into text blocks and escapes them for its platform; job
and model names come from configuration and run rows, so they are not trusted.
"""

from __future__ import annotations

from jobs.digest import fmt
from jobs.digest.model import Digest, JobStats
from jobs.digest.sections import time_saved_phrase

SEVERITY_MARK = {"critical": "!!", "warning": "!", "info": "i"}
MAX_JOB_LINES = 10


def _job_line(row: JobStats) -> str:
    parts = [f"{row.job}: {fmt.plural(row.runs, 'run')}"]
    if row.runs:
        ok = f"{fmt.rate(row.success_rate)} ok"
        if row.success_rate_change:
            ok += f" ({fmt.points(row.success_rate_change)})"
        parts.append(ok)
    if row.p50_ms is not None:
        parts.append(f"p50 {fmt.duration(row.p50_ms)} {fmt.change(row.p50_change_pct)}".rstrip())
        parts.append(f"p95 {fmt.duration(row.p95_ms)} {fmt.change(row.p95_change_pct)}".rstrip())
    if row.health and row.health != "up":
        parts.append(row.health)
    return "  " + ", ".join(parts)


def _caching_lines(digest: Digest) -> list[str]:
    caching = digest.caching
    line = (
        f"Caching: {fmt.rate(caching.hit_rate)} hit rate "
        f"({fmt.count(caching.cache_hits)}/{fmt.count(caching.runs)}), "
        f"{time_saved_phrase(caching)}"
    )
    if caching.full_review_tokens_in:
        used, full = caching.review_tokens_in, caching.full_review_tokens_in
        line += f"; review tokens {fmt.count(used)} of {fmt.count(full)} for full reviews"
        line += f" ({fmt.rate(1 - used / full)} saved)"
    lines = [line]
    lines += [
        f"  {row.job}: {fmt.rate(row.hit_rate)} ({row.cache_hits}/{row.runs})"
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
            f"; feedback {r.helpful}/{judged} helpful ({fmt.rate(r.helpful_share)}), "
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
        lines.append(f"  {fmt.plural(len(clean), 'job')} clean: {fmt.plural(runs, 'run')}, all ok")
    return lines


def _model_lines(digest: Digest) -> list[str]:
    if not digest.models:
        return []
    lines = ["Models:"]
    for m in digest.models:
        line = (
            f"  {m.model}: {fmt.plural(m.calls, 'call')}, {fmt.rate(m.success_rate)} ok, "
            f"p50 {fmt.duration(m.p50_ms)} p95 {fmt.duration(m.p95_ms)} "
            f"sd {fmt.duration(m.stdev_ms)}"
        )
        if m.tokens_per_s is not None:
            line += f", {m.tokens_per_s:.0f} tok/s"
        if m.p50_change_pct is not None:
            line += f" (p50 {fmt.change(m.p50_change_pct)})"
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
            f"Batching: {fmt.plural(b.batches, 'batch', 'batches')} of "
            f"{fmt.plural(b.member_runs, 'run')} saved {fmt.plural(b.triggers_saved, 'trigger')} "
            f"and {fmt.plural(b.posts_saved, 'post')}"
        )
    lines += [f"Note: {note}" for note in digest.notes]
    return lines
