"""How reviews and findings look in a reply: a review's summary, and each finding
with its four feedback buttons. In jobs/ because scheduled reviews post the same
reply the /review command shows."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from jobs.config.schema import Config
from jobs.context import Context
from jobs.core.reply import Block, Button, Reply, ReplyField, Span
from jobs.core.text import duration, plural
from jobs.review.budget import NOT_REVIEWED_REASONS, OVER_BUDGET, SkippedFile
from jobs.review.code_view import NO_VIEW, CodeView, code_view
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

# Beside each person's verdict, never on a button (a button is everyone's).
VERDICT_ICONS = {"helpful": "👍", "not_helpful": "👎", "false_positive": "🚫", "resolved": "✅"}


def marks_text(marks: Sequence[Mark]) -> str:
    """ "🚫 False positive — marked by Dana, Lee": one line per verdict, who set it."""
    by_verdict: dict[str, list[str]] = {}
    for mark in marks:
        by_verdict.setdefault(mark.verdict, []).append(mark.by)
    return "\n".join(
        f"{VERDICT_ICONS.get(verdict, '•')} {VERDICT_LABELS.get(verdict, verdict)} — "
        f"marked by {', '.join(names)}"
        for verdict, names in by_verdict.items()
    )


_BACKTICKED = re.compile(r"`([^`\n]+)`")


def message_spans(message: str) -> list[Span]:
    """A linter's or model's message with its `backticked` words as code."""
    spans = []
    for index, part in enumerate(_BACKTICKED.split(message)):
        if part:
            spans.append(Span(text=part, style="code" if index % 2 else "plain"))
    return spans


def rule_label(finding: Finding) -> str:
    """ "F821 undefined-name", or the category alone when the rule has no name."""
    name = finding.rule_name
    return f"{finding.category} {name}" if name and name != finding.category else finding.category


def finding_spans(finding: Finding, state: str = "", view: CodeView = NO_VIEW) -> list[Span]:
    """What the finding says, then where (the path and line as code, the rule with its
    documentation, the line on the code host), then the code itself."""
    tag = f" [{state}]" if state and state not in ("open", "new") else ""
    spans = [Span(text=f"{SEVERITY_ICON.get(finding.severity, '•')} ")]
    spans += message_spans(finding.message)
    spans.append(Span(text=f"{tag}\n"))
    spans.append(Span(text=location(finding.path, finding.line, finding.cell), style="code"))
    rule = rule_label(finding)
    spans.append(Span(text=" · "))
    if finding.rule_url:
        spans.append(Span(text=rule, style="link", url=finding.rule_url))
    else:
        spans.append(Span(text=rule))
    url = view.url(finding)
    if url and view.web is not None:
        spans += [Span(text=" · "), Span(text=view.web.host_name, style="link", url=url)]
    snippet = view.snippet(finding)
    if snippet:
        spans.append(Span(text=snippet, style="pre"))
    if finding.suggestion:
        spans.append(Span(text="\nFix: "))
        spans += message_spans(finding.suggestion)
    return spans


def finding_text(finding: Finding, state: str = "", view: CodeView = NO_VIEW) -> str:
    return Block(spans=finding_spans(finding, state, view)).text


def finding_block(
    finding: Finding,
    chosen: str | None = None,
    state: str = "",
    marks: Sequence[Mark] = (),
    view: CodeView = NO_VIEW,
) -> Block:
    """A finding with feedback buttons; who marked what is said under it. The buttons
    carry no tick: verdicts are each person's own, and a button is everyone's."""
    assert finding.id is not None
    del chosen  # the marks line says who chose what
    spans = finding_spans(finding, state, view)
    if marks:
        spans.append(Span(text="\n" + marks_text(marks)))
    buttons = [
        Button(
            label=label,
            payload=f"fb:{finding.id}:{CODE_OF[verdict]}",
            style="danger" if verdict == "false_positive" else "default",
        )
        for verdict, label in VERDICT_LABELS.items()
    ]
    return Block(spans=spans, buttons=buttons, key=finding_key(finding.id))


def suppressed_block(
    finding: Finding, marks: Sequence[Mark] = (), view: CodeView = NO_VIEW
) -> Block:
    """A suppressed finding folded to one line, who marked it false positive on it,
    with the one button that takes the false positive back."""
    assert finding.id is not None
    spans = [
        Span(text="🚫 "),
        Span(text=location(finding.path, finding.line, finding.cell), style="code"),
        Span(text=f" {rule_label(finding)}"),
    ]
    url = view.url(finding)
    if url and view.web is not None:
        spans += [Span(text=" · "), Span(text=view.web.host_name, style="link", url=url)]
    by = [mark.by for mark in marks if mark.verdict == "false_positive"]
    spans.append(Span(text=" — false positive" + (f", marked by {', '.join(by)}" if by else "")))
    others = [mark for mark in marks if mark.verdict != "false_positive"]
    if others:
        spans.append(Span(text="\n" + marks_text(others)))
    undo = Button(label="Undo false positive", payload=f"fb:{finding.id}:{UNDO_CODE}")
    return Block(spans=spans, buttons=[undo], key=finding_key(finding.id))


def short(sha: str | None) -> str:
    return (sha or "")[:7]


def repo_label(name: str) -> str:
    return name.removeprefix("local:")


def review_post(context: Context, result: ReviewResult, *, on_command_line: bool = False) -> Reply:
    """The review as chat shows it, its findings leading to their code."""
    row = result.stored.row
    shown = result.shown[: context.config.reviewer.max_findings_shown]
    view = code_view(context, str(row["repo"]), row["commit_sha"], shown)
    return review_reply(result, context.config, view, on_command_line=on_command_line)


def review_reply(
    result: ReviewResult,
    config: Config,
    view: CodeView = NO_VIEW,
    *,
    on_command_line: bool = False,
) -> Reply:
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
        finding_block(f.as_row(), state=f.status, marks=marks.get(f.id, ()), view=view)
        for f in shown[:limit]
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


def branch_reply(context: Context, found: BranchReview, *, on_command_line: bool = False) -> Reply:
    """A branch's or pull request's review: what it adds to its base branch (new) and
    what it fixes there, with the same finding blocks and buttons as a review, linked
    to the code at the branch's head."""
    result, head, config = found.result, found.head, context.config
    shown = result.shown[: config.reviewer.max_findings_shown]
    view = code_view(context, found.repo, head.head_sha, shown)
    reply = review_reply(result, config, view, on_command_line=on_command_line)
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
