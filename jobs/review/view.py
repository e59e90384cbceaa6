"""How reviews and findings look in a reply: a review's summary, and each finding
with its four feedback buttons. In jobs/ because scheduled reviews post the same
reply the /review command shows."""

from __future__ import annotations

from jobs.config import Config
from jobs.feedback import CODE_OF
from jobs.plural import plural
from jobs.reply import Block, Button, Reply, ReplyField
from jobs.review.result import ReviewResult
from storage.models import Finding

SEVERITY_ICON = {"error": "🔴", "warning": "🟠", "info": "🔵"}
VERDICT_LABELS = {
    "helpful": "Helpful",
    "not_helpful": "Not helpful",
    "false_positive": "False positive",
    "resolved": "Resolved",
}


def finding_key(finding_id: int) -> str:
    return f"finding:{finding_id}"


def finding_block(finding: Finding, chosen: str | None = None, state: str = "") -> Block:
    """A finding with feedback buttons; the chosen verdict is ticked."""
    assert finding.id is not None
    where = f"{finding.path}:{finding.line}"
    tag = f" [{state}]" if state and state != "open" else ""
    text = (
        f"{SEVERITY_ICON.get(finding.severity, '•')} {where} {finding.category}{tag} — "
        f"{finding.message}"
    )
    if finding.suggestion:
        text += f"\nSuggestion: {finding.suggestion}"
    buttons = [
        Button(
            label=("✓ " if verdict == chosen else "") + label,
            payload=f"fb:{finding.id}:{CODE_OF[verdict]}",
            style="danger" if verdict == "false_positive" else "default",
        )
        for verdict, label in VERDICT_LABELS.items()
    ]
    return Block(text=text, buttons=buttons, key=finding_key(finding.id))


MAX_SKIPPED_LISTED = 10


def short(sha: str | None) -> str:
    return (sha or "")[:7]


def repo_label(name: str) -> str:
    return name.removeprefix("local:")


def review_reply(result: ReviewResult, config: Config) -> Reply:
    """The summary of a review, its skipped files and its top findings with buttons."""
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
    fields = [
        ReplyField(
            label="Kind", value=f"{row['kind']}" + (" (cached)" if result.cache_hit else "")
        ),
        ReplyField(label="Commits", value=f"{commits} ({covered})"),
        ReplyField(
            label="Findings",
            value=" · ".join(
                f"{k} {row[f'{k}_count']}" for k in ("new", "open", "fixed", "suppressed")
            ),
        ),
        ReplyField(
            label="Tokens", value=tokens_text(row["prompt_tokens"], row["full_prompt_tokens"])
        ),
        ReplyField(label="Duration", value=f"{result.duration_ms} ms"),
    ]
    blocks: list[Block] = []
    skipped = result.skipped_files
    if skipped:
        lines = [f"{s.path} ({s.reason})" for s in skipped[:MAX_SKIPPED_LISTED]]
        if len(skipped) > MAX_SKIPPED_LISTED:
            lines.append(f"and {len(skipped) - MAX_SKIPPED_LISTED} more")
        blocks.append(Block(text=f"Skipped {plural(len(skipped), 'file')}:\n" + "\n".join(lines)))
    shown = result.shown
    limit = config.reviewer.max_findings_shown
    blocks += [finding_block(f.as_row(), state=f.status) for f in shown[:limit]]
    if not shown:
        blocks.append(Block(text="No open findings."))
    note = ""
    if len(shown) > limit:
        note = f"{len(shown) - limit} more: /findings {label} for all"
    return Reply(title=title, blocks=blocks, fields=fields, note=note)


def tokens_text(used: int, full: int) -> str:
    if full <= 0:
        return f"{used:,} (full tree: 0)"
    saved = max(0.0, 100.0 * (1 - used / full))
    return f"{used:,} of {full:,} for the full tree ({saved:.0f}% saved)"
