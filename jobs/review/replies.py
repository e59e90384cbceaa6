"""How reviews and findings look in a reply: a review's summary, and each finding
with its four feedback buttons. In jobs/ because scheduled reviews post the same
reply the /review command shows."""

from __future__ import annotations

import re
from collections.abc import Sequence

from jobs.core.reply import Block, Button, Span
from jobs.core.text import plural
from jobs.review.budget import NOT_REVIEWED_REASONS, OVER_BUDGET, SkippedFile
from jobs.review.code_view import NO_VIEW, CodeView
from jobs.review.feedback import CODE_OF, OPEN_CODE, UNDO_CODE, Mark, finding_key
from jobs.review.finding import location
from storage.models import Finding

SEVERITY_ICON = {"error": "🔴", "warning": "🟠", "info": "🔵"}
VERDICT_LABELS = {
    "helpful": "Helpful",
    "not_helpful": "Not helpful",
    "false_positive": "False positive",
    "resolved": "Resolved",
}

# `mu:<finding id>`: an admin mutes the finding's rule in its repository.
MUTE_PREFIX = "mu"

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
    opener = Button(label="Feedback", payload=f"fb:{finding.id}:{OPEN_CODE}")
    return Block(spans=spans, buttons=buttons, key=finding_key(finding.id), opener=opener)


def suppressed_block(
    finding: Finding, marks: Sequence[Mark] = (), view: CodeView = NO_VIEW
) -> Block:
    """A suppressed finding folded to one line, who marked it false positive on it,
    with the button that takes the false positive back and the one (for admins) that
    mutes its rule in the repository instead of marking its findings one by one."""
    assert finding.id is not None
    spans = _folded(finding, "🚫", view)
    by = [mark.by for mark in marks if mark.verdict == "false_positive"]
    spans.append(Span(text=" — false positive" + (f", marked by {', '.join(by)}" if by else "")))
    others = [mark for mark in marks if mark.verdict != "false_positive"]
    if others:
        spans.append(Span(text="\n" + marks_text(others)))
    undo = Button(label="Undo false positive", payload=f"fb:{finding.id}:{UNDO_CODE}")
    mute = Button(label=f"Mute {finding.category[:40]} here", payload=f"{MUTE_PREFIX}:{finding.id}")
    return Block(spans=spans, buttons=[undo, mute], key=finding_key(finding.id))


def muted_block(finding: Finding, by: str, view: CodeView = NO_VIEW) -> Block:
    """A finding of a muted rule folded to one line, who muted the rule; no buttons."""
    assert finding.id is not None
    spans = _folded(finding, "🔇", view)
    spans.append(Span(text=f" — rule muted in this repository by {by}"))
    return Block(spans=spans, key=finding_key(finding.id))


def _folded(finding: Finding, icon: str, view: CodeView) -> list[Span]:
    """A finding left out of the list, as one line: its icon, where, which rule, and
    the link to its code."""
    spans = [
        Span(text=f"{icon} "),
        Span(text=location(finding.path, finding.line, finding.cell), style="code"),
        Span(text=f" {rule_label(finding)}"),
    ]
    url = view.url(finding)
    if url and view.web is not None:
        spans += [Span(text=" · "), Span(text=view.web.host_name, style="link", url=url)]
    return spans


def short(sha: str | None) -> str:
    return (sha or "")[:7]


def repo_label(name: str) -> str:
    return name.removeprefix("local:")


MAX_GROUPS_LISTED = 8
MAX_PATHS_PER_GROUP = 3


def not_reviewed_text(
    files: Sequence[SkippedFile],
    max_groups: int = MAX_GROUPS_LISTED,
    paths_per_group: int = MAX_PATHS_PER_GROUP,
) -> str:
    """Files no reviewer looked at, grouped by reason, largest group first:
    "Not reviewed: 14 files\nno linter for *.ts (12): a.ts, b.ts, c.ts …"."""
    groups: dict[str, list[str]] = {}
    for skipped in files:
        groups.setdefault(skipped.reason, []).append(skipped.path)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    lines = [f"Not reviewed: {plural(len(files), 'file')}"]
    for reason, paths in ordered[:max_groups]:
        listed = ", ".join(paths[:paths_per_group])
        more = f" and {len(paths) - paths_per_group} more" if len(paths) > paths_per_group else ""
        lines.append(f"{reason} ({len(paths)}): {listed}{more}")
    if len(ordered) > max_groups:
        rest = sum(len(paths) for _reason, paths in ordered[max_groups:])
        lines.append(f"and {rest} more in {len(ordered) - max_groups} other groups")
    carried = sum(1 for s in files if s.reason in NOT_REVIEWED_REASONS or s.reason == OVER_BUDGET)
    if carried:
        lines.append(f"{carried} of them carried to the next review until reviewed")
    return "\n".join(lines)


def tokens_text(tokens: dict[str, int], full: int) -> str:
    """Like "1,234 prompt + 210 completion; a full review: ~20,480 prompt (94% saved)";
    `full` 0 leaves the comparison out (a full review compares with nothing)."""
    used = f"{tokens['prompt']:,} prompt + {tokens['completion']:,} completion"
    if full <= 0:
        return used
    saved = max(0.0, 100.0 * (1 - tokens["prompt"] / full))
    return f"{used}; a full review: ~{full:,} prompt ({saved:.0f}% saved)"
