"""How reviews and findings look in a reply: a review's summary, and each finding
with its four feedback buttons. In jobs/ because scheduled reviews post the same
reply the /review command shows."""

from __future__ import annotations

from jobs.config import Config
from jobs.feedback import CODE_OF
from jobs.reply import Block, Button, Reply, ReplyField
from jobs.review.budget import NOT_REVIEWED_REASONS
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
    plural = "commit" if commits == 1 else "commits"
    title = f"Review {label}: {result.display_kind} {short(row['commit_sha'])}"
    if not result.cache_hit:
        title += f" ({commits} {plural})"
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
        *cost_fields(result),
    ]
    blocks: list[Block] = [Block(text=f"Note: {note}") for note in result.notes]
    skipped = result.skipped_files
    if skipped:
        lines = [f"{s.path} ({s.reason})" for s in skipped[:MAX_SKIPPED_LISTED]]
        if len(skipped) > MAX_SKIPPED_LISTED:
            lines.append(f"and {len(skipped) - MAX_SKIPPED_LISTED} more")
        not_reviewed = sum(1 for s in skipped if s.reason in NOT_REVIEWED_REASONS)
        head = f"Skipped {len(skipped)} files"
        if not_reviewed:
            head += f" ({not_reviewed} not reviewed yet: carried to the next review)"
        blocks.append(Block(text=f"{head}:\n" + "\n".join(lines)))
    shown = result.shown
    limit = config.reviewer.max_findings_shown
    blocks += [finding_block(f.as_row(), state=f.status) for f in shown[:limit]]
    if not shown:
        blocks.append(Block(text="No open findings."))
    note = ""
    if len(shown) > limit:
        note = f"{len(shown) - limit} more: /findings {label} for all"
    return Reply(title=title, blocks=blocks, fields=fields, note=note)


def cost_fields(result: ReviewResult) -> list[ReplyField]:
    """Tokens for a model review (this call's, from the server's usage, against a
    full review of the commit; a linter spends none, so claims none), the call's
    duration, and for a cache hit the time it saved."""
    row = result.stored.row
    fields = []
    if row["reviewer_kind"] == "llm":
        full = result.full_tree_tokens if row["kind"] == "delta" or result.cache_hit else 0
        fields.append(ReplyField(label="Tokens", value=tokens_text(result.tokens, full)))
    fields.append(ReplyField(label="Duration", value=f"{result.duration_ms} ms"))
    if result.cache_hit:
        made_ms = int(row["duration_ms"])
        saved = max(made_ms - result.duration_ms, 0)
        fields.append(ReplyField(label="Saved", value=f"~{saved} ms (review took {made_ms} ms)"))
    return fields


def tokens_text(tokens: dict[str, int], full: int) -> str:
    """Like "1,234 prompt + 210 completion; a full review: ~20,480 prompt (94% saved)";
    `full` 0 leaves the comparison out (a full review compares with nothing)."""
    used = f"{tokens['prompt']:,} prompt + {tokens['completion']:,} completion"
    if full <= 0:
        return used
    saved = max(0.0, 100.0 * (1 - tokens["prompt"] / full))
    return f"{used}; a full review: ~{full:,} prompt ({saved:.0f}% saved)"
