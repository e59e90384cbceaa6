"""The digest's story: a few lines of what changed and what to look at, before any
figure — jobs that fail or are down, jobs that got slower, findings that came and
went, false positives marked — or one line when all is quiet. Pure; plain words,
no statistics (those are on the operator page)."""

from __future__ import annotations

from jobs.core.text import plural
from jobs.digest.figures import Digest, Insight, JobStats, RepoReview

# How many lines of each kind the story tells before it sums up the rest.
MAX_PROBLEM_LINES = 5
MAX_REPO_LINES = 5

ICON = {"problem": "❌", "late": "⚠️", "slower": "🐢", "drop": "📉", "findings": "🔎"}
ICON_FALSE_POSITIVE = "🙈"
ICON_QUIET = "✅"


def _problem_line(row: JobStats, health: Insight | None) -> str:
    """'❌ flaky: 1 of 2 runs failed' ('⚠️ …, working again' once its last run worked),
    '⚠️ nightly is late: …', or both in one line."""
    failed = f"{row.failures} of {plural(row.runs, 'run')} failed" if row.failures else ""
    if failed and row.health == "up":  # its last run worked: worth a look, not a fire
        return f"{ICON['late']} {row.job}: {failed}, working again"
    icon = ICON["problem"] if row.failures or row.health == "down" else ICON["late"]
    if health is None:
        return f"{icon} {row.job}: {failed}"
    return f"{icon} {health.headline}" + (f"; {failed}" if failed else "")


def problem_lines(digest: Digest) -> list[str]:
    """Jobs with failed runs, or late or down: one line each, worst first."""
    health = {i.job: i for i in digest.insights if i.metric == "health"}
    rows = [row for row in digest.jobs if row.failures or row.job in health]
    lines = [_problem_line(row, health.get(row.job)) for row in rows[:MAX_PROBLEM_LINES]]
    known = {row.job for row in rows}
    # Health may name a component that is not a job (the digest's reads know only jobs).
    lines += [f"{ICON['late']} {i.headline}" for i in health.values() if i.job not in known]
    if len(rows) > MAX_PROBLEM_LINES:
        lines.append(f"… and {plural(len(rows) - MAX_PROBLEM_LINES, 'more job')} with problems")
    return lines


def change_lines(digest: Digest) -> list[str]:
    """Jobs that got slower, rates that fell."""
    return [
        f"{ICON['slower'] if i.metric == 'duration' else ICON['drop']} {i.headline}"
        for i in digest.insights
        if i.metric != "health"
    ]


def _repo_line(repo: RepoReview) -> str:
    parts = []
    if repo.new:
        parts.append(plural(repo.new, "new finding"))
    if repo.fixed:
        parts.append(f"{repo.fixed} fixed")
    return f"{ICON['findings']} {repo.repo}: {', '.join(parts)} — {repo.open} open"


def finding_lines(digest: Digest) -> list[str]:
    """Repositories whose findings changed, and false positives marked."""
    changed = [r for r in digest.reviews.repos if r.new or r.fixed]
    lines = [_repo_line(r) for r in changed[:MAX_REPO_LINES]]
    if len(changed) > MAX_REPO_LINES:
        rest = changed[MAX_REPO_LINES:]
        lines.append(
            f"… {plural(len(rest), 'more repository', 'more repositories')}: "
            f"{sum(r.new for r in rest)} new, {sum(r.fixed for r in rest)} fixed"
        )
    marked = [r for r in digest.reviews.repos if r.marked_false_positive]
    if marked:
        where = ", ".join(f"{r.repo} {r.marked_false_positive}" for r in marked)
        total = sum(r.marked_false_positive for r in marked)
        noun = plural(total, "finding")
        lines.append(f"{ICON_FALSE_POSITIVE} {noun} marked false positive ({where})")
    return lines


def story_lines(digest: Digest) -> list[str]:
    """What changed and what to look at, most urgent first; one line when nothing did."""
    lines = problem_lines(digest) + change_lines(digest) + finding_lines(digest)
    if lines:
        return lines
    if not digest.runs:
        return [f"No runs in this {digest.period}."]
    return [f"{ICON_QUIET} All quiet: {plural(digest.runs, 'run')}, all ok."]


def things_to_look_at(digest: Digest) -> int:
    """How many problems and changes the story names (findings are news, not problems)."""
    return len(problem_lines(digest)) + len(change_lines(digest))
