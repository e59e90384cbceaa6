"""How reviews and findings look in a reply: a review's summary, and each finding
with its four feedback buttons. In jobs/ because scheduled reviews post the same
reply the /review command shows."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from jobs.config.schema import Config
from jobs.core.reply import Block, Button, Reply, ReplyField
from jobs.core.text import duration, plural
from jobs.review.budget import NOT_REVIEWED_REASONS, OVER_BUDGET, SkippedFile
from jobs.review.feedback import CODE_OF, UNDO_CODE, Mark, finding_key
from jobs.review.finding import location
from jobs.review.result import BranchReview, ReviewResult
from storage.models import Finding

SEVERITY_ICON = {"error": "🔴", "warning": "🟠", "info": "🔵"}
VERDICT_LABELS = {
    "helpful": "Helpful",
    "not_helpful": "Not helpful",
    "false_positive": "False positive",
    "resolved": "Resolved",
}


def marks_text(marks: Sequence[Mark]) -> str:
    """ "✓ False positive — marked by Dana, Lee": one line per verdict, who set it."""
    by_verdict: dict[str, list[str]] = {}
    for mark in marks:
        by_verdict.setdefault(mark.verdict, []).append(mark.by)
    return "\n".join(
        f"✓ {VERDICT_LABELS.get(verdict, verdict)} — marked by {', '.join(names)}"
        for verdict, names in by_verdict.items()
    )


def finding_text(finding: Finding, state: str = "") -> str:
    where = location(finding.path, finding.line, finding.cell)
    tag = f" [{state}]" if state and state != "open" else ""
    text = (
        f"{SEVERITY_ICON.get(finding.severity, '•')} {where} {finding.category}{tag} — "
        f"{finding.message}"
    )
    if finding.suggestion:
        text += f"\nSuggestion: {finding.suggestion}"
    return text


def finding_block(
    finding: Finding, chosen: str | None = None, state: str = "", marks: Sequence[Mark] = ()
) -> Block:
    """A finding with feedback buttons; the chosen verdict is ticked, and who marked
    what is said under it."""
    assert finding.id is not None
    text = finding_text(finding, state)
    if marks:
        text += "\n" + marks_text(marks)
    buttons = [
        Button(
            label=("✓ " if verdict == chosen else "") + label,
            payload=f"fb:{finding.id}:{CODE_OF[verdict]}",
            style="danger" if verdict == "false_positive" else "default",
        )
        for verdict, label in VERDICT_LABELS.items()
    ]
    return Block(text=text, buttons=buttons, key=finding_key(finding.id))


def suppressed_block(finding: Finding, marks: Sequence[Mark] = ()) -> Block:
    """A suppressed finding with the one button that takes its false positive back."""
    assert finding.id is not None
    text = finding_text(finding)
    if marks:
        text += "\n" + marks_text(marks)
    undo = Button(label="Undo false positive", payload=f"fb:{finding.id}:{UNDO_CODE}")
    return Block(text=text, buttons=[undo], key=finding_key(finding.id))


def short(sha: str | None) -> str:
    return (sha or "")[:7]


def repo_label(name: str) -> str:
    return name.removeprefix("local:")


def review_reply(result: ReviewResult, config: Config, *, on_command_line: bool = False) -> Reply:
    """The summary of a review, its skipped files and its top findings with buttons.
    `on_command_line`: its hints name `opsdesk findings`, not the chat's /findings."""
    row = result.stored.row
    label = repo_label(row["repo"])
    commits = int(row["commits_covered"])
    title = f"Review {label}: {result.display_kind} {short(row['commit_sha'])}"
    if not result.cache_hit:
        title += f" ({plural(commits, 'commit')})"
    covered = (
        f"{short(row['base_sha'])}..{short(row['commit_sha'])}"
        if row["base_sha"]
        else f"up to {short(row['commit_sha'])}"
    )
    counts = result.counts
    fields = [
        ReplyField(
            label="Kind", value=f"{row['kind']}" + (" (cached)" if result.cache_hit else "")
        ),
        ReplyField(label="Commits", value=f"{commits} ({covered})"),
        ReplyField(
            label="Findings",
            value=" · ".join(f"{k} {n}" for k, n in counts.items()),
        ),
        *cost_fields(result),
    ]
    blocks: list[Block] = [Block(text=f"Note: {note}") for note in result.notes]
    if result.skipped_files:
        blocks.append(Block(text=not_reviewed_text(result.skipped_files)))
    shown = result.shown
    limit = config.reviewer.max_findings_shown
    marks = result.stored.marks
    blocks += [
        finding_block(f.as_row(), state=f.status, marks=marks.get(f.id, ())) for f in shown[:limit]
    ]
    if not shown:
        blocks.append(Block(text=no_findings_text(result)))
    notes = []
    listing = f"opsdesk findings {shlex.quote(label)}" if on_command_line else f"/findings {label}"
    if len(shown) > limit:
        pages = "" if on_command_line else ", a page at a time"
        notes.append(f"{len(shown) - limit} more: {listing} lists them all{pages}")
    if counts["suppressed"]:
        marked = f"{listing} --suppressed" if on_command_line else f"{listing} suppressed"
        notes.append(f"{counts['suppressed']} marked false positive: {marked}")
    return Reply(title=title, blocks=blocks, fields=fields, note="; ".join(notes))


MAX_GROUPS_LISTED = 8
MAX_PATHS_PER_GROUP = 3


def not_reviewed_text(files: Sequence[SkippedFile]) -> str:
    """Files no reviewer looked at, grouped by reason, largest group first:
    "Not reviewed: 14 files\nno linter for *.ts (12): a.ts, b.ts, c.ts …"."""
    groups: dict[str, list[str]] = {}
    for skipped in files:
        groups.setdefault(skipped.reason, []).append(skipped.path)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    lines = [f"Not reviewed: {plural(len(files), 'file')}"]
    for reason, paths in ordered[:MAX_GROUPS_LISTED]:
        listed = ", ".join(paths[:MAX_PATHS_PER_GROUP])
        more = " …" if len(paths) > MAX_PATHS_PER_GROUP else ""
        lines.append(f"{reason} ({len(paths)}): {listed}{more}")
    if len(ordered) > MAX_GROUPS_LISTED:
        rest = sum(len(paths) for _reason, paths in ordered[MAX_GROUPS_LISTED:])
        lines.append(f"and {rest} more in {len(ordered) - MAX_GROUPS_LISTED} other groups")
    carried = sum(1 for s in files if s.reason in NOT_REVIEWED_REASONS or s.reason == OVER_BUDGET)
    if carried:
        lines.append(f"{carried} of them carried to the next review until reviewed")
    return "\n".join(lines)


def no_findings_text(result: ReviewResult) -> str:
    """Never a bare "No open findings" when nothing, or not everything, was checked."""
    row = result.stored.row
    if not result.skipped_files:
        return "No open findings."
    if row["reviewer_kind"] == "lint" and not row.get("reviewed_files"):
        return "Nothing was reviewed: no configured linter covers any file in this commit."
    return "No open findings in the files reviewed (the files above were not reviewed)."


def cost_fields(result: ReviewResult) -> list[ReplyField]:
    """Tokens for a model review (this call's, from the server's usage, against a
    full review of the commit; a linter spends none, so claims none), the call's
    duration, and for a cache hit the time it saved."""
    row = result.stored.row
    fields = []
    if row["reviewer_kind"] == "llm":
        full = result.full_tree_tokens if row["kind"] == "delta" or result.cache_hit else 0
        fields.append(ReplyField(label="Tokens", value=tokens_text(result.tokens, full)))
    fields.append(ReplyField(label="Duration", value=duration(result.duration_ms)))
    if result.cache_hit:
        made_ms = int(row["duration_ms"])
        saved = max(made_ms - result.duration_ms, 0)
        fields.append(
            ReplyField(label="Saved", value=f"~{duration(saved)} (review took {duration(made_ms)})")
        )
    return fields


def tokens_text(tokens: dict[str, int], full: int) -> str:
    """Like "1,234 prompt + 210 completion; a full review: ~20,480 prompt (94% saved)";
    `full` 0 leaves the comparison out (a full review compares with nothing)."""
    used = f"{tokens['prompt']:,} prompt + {tokens['completion']:,} completion"
    if full <= 0:
        return used
    saved = max(0.0, 100.0 * (1 - tokens["prompt"] / full))
    return f"{used}; a full review: ~{full:,} prompt ({saved:.0f}% saved)"


def branch_reply(found: BranchReview, config: Config, *, on_command_line: bool = False) -> Reply:
    """A branch's or pull request's review: what it adds to its base branch (new) and
    what it fixes there, with the same finding blocks and buttons as a review."""
    result, head = found.result, found.head
    reply = review_reply(result, config, on_command_line=on_command_line)
    commits = int(result.stored.row["commits_covered"])
    kind = "cached" if result.cache_hit else "branch"
    title = (
        f"Review {repo_label(found.repo)} {head.label}: {kind} {short(head.head_sha)} "
        f"({plural(commits, 'commit')} on {head.base_label})"
    )
    notes = []
    hidden = len(result.shown) - config.reviewer.max_findings_shown
    if hidden > 0:
        ask = (
            f"--pr {head.label[1:]}"
            if head.label.startswith("#")
            else (f"--branch {shlex.quote(head.label)}")
        )
        notes.append(
            f"{hidden} more: opsdesk review {shlex.quote(repo_label(found.repo))} {ask} "
            "--json lists them all"
        )
    if result.counts["suppressed"]:
        notes.append(f"{result.counts['suppressed']} marked false positive")
    return reply.model_copy(update={"title": title, "note": "; ".join(notes)})
