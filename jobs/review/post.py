"""The review post: what changed since the last review, first.

The title (the notification people see on their lock screen) states the news —
"click: 2 new, 1 fixed since yesterday — 8 commits"; the new findings follow, most
severe first, each leading to its code; what was fixed, what stays open and what no
reviewer covered are one line each, with the command that lists them. A night that
changed nothing is one line. The same post for a scheduled review, `/review` and
`opsdesk review`; its counts are one block a press redraws (`counts_block`).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select

from jobs.config.schema import Config
from jobs.context import Context
from jobs.core.reply import Block, Reply, Span
from jobs.core.text import duration, plural
from jobs.review.budget import NOT_REVIEWED_REASONS, SkippedFile
from jobs.review.code_view import NO_VIEW, CodeView, code_view
from jobs.review.finding import location
from jobs.review.history import REVIEWS, review_commit, served_review_id
from jobs.review.replies import finding_block, repo_label, short, tokens_text
from jobs.review.result import BranchReview, ReviewResult
from jobs.review.stored import ReviewedFinding

COUNTS_KEY_PREFIX = "counts:"
MAX_FIXED_LISTED = 3
NO_LINTER = "no linter for"


def counts_key(review_id: int, commit: str | None = None) -> str:
    """counts:<review id>:<short commit>: a press redraws the counts of the message
    showing that review (on Telegram, one whose text names that commit)."""
    return f"{COUNTS_KEY_PREFIX}{review_id}:{short(commit)}"


def review_post(context: Context, result: ReviewResult, *, on_command_line: bool = False) -> Reply:
    """The review as chat shows it: the news since its base, the findings leading to
    their code at the reviewed commit. `on_command_line`: its hints name `opsdesk
    findings`, not the chat's /findings."""
    row = result.stored.row
    listed = [f for f in result.findings if f.status == "new"] if row["base_sha"] else result.shown
    view = code_view(context, str(row["repo"]), row["commit_sha"], listed[: _limit(context.config)])
    since = since_phrase(context, result)
    return review_reply(result, context.config, view, since, on_command_line=on_command_line)


def _limit(config: Config) -> int:
    return config.reviewer.max_findings_shown


def since_phrase(context: Context, result: ReviewResult) -> str:
    """ "since yesterday", "since Monday", "since 3b26cff": when the review this one
    compares with was made, in the team's time zone."""
    row = result.stored.row
    base = row["base_sha"]
    if not base:
        return ""
    with context.engine.connect() as connection:
        made = connection.execute(
            select(REVIEWS.c.created_at)
            .where(REVIEWS.c.repo == row["repo"], REVIEWS.c.commit_sha == base)
            .order_by(REVIEWS.c.id.desc())
            .limit(1)
        ).scalar()
    if made is None:
        return f"since {short(base)}"
    zone = ZoneInfo(context.config.scheduler.timezone)
    return "since " + day_words(made, context.clock(), zone)


def day_words(then: datetime, now: datetime, zone: tzinfo) -> str:
    """A past moment as a person says it: "earlier today", "yesterday", "Monday",
    "3 Nov" (calendar days in `zone`)."""

    def local(moment: datetime) -> datetime:
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(zone)

    days = (local(now).date() - local(then).date()).days
    if days <= 0:
        return "earlier today"
    if days == 1:
        return "yesterday"
    if days < 7:
        return local(then).strftime("%A")
    return f"{local(then).day} {local(then):%b}"


def review_reply(
    result: ReviewResult,
    config: Config,
    view: CodeView = NO_VIEW,
    since: str = "",
    *,
    on_command_line: bool = False,
) -> Reply:
    """The post: the news, the new findings, then one line each for fixed, open and
    not reviewed; a quiet night (or a cache hit: nothing changed) in one line."""
    row = result.stored.row
    commands = Commands(repo_label(row["repo"]), on_command_line)
    new = [f for f in result.findings if f.status == "new"]
    fixed = [f for f in result.findings if f.status == "fixed"]
    notes = [Block(text=f"Note: {note}") for note in result.notes]
    if result.cache_hit or (row["base_sha"] and not (new or fixed)):
        return Reply(blocks=[quiet_block(result, since, commands), *notes])
    limit = _limit(config)
    marks = result.stored.marks
    # What is news: the new findings; a review with nothing to compare with (the first,
    # or a full one) has every finding it stands by as news.
    listed = new if row["base_sha"] else result.shown
    blocks = [*notes]
    blocks += [
        finding_block(f.as_row(), state=f.status, marks=marks.get(f.id, ()), view=view)
        for f in listed[:limit]
    ]
    if len(listed) > limit:
        more = len(listed) - limit
        what = "new" if row["base_sha"] else "open"
        blocks.append(_line(f"… and {more} more {what}, most severe first: ", commands.open))
    if fixed:
        blocks.append(fixed_block(fixed))
    blocks.append(counts_block(result, commands))
    if result.skipped_files:
        blocks.append(not_reviewed_block(result.skipped_files, commands))
    return Reply(title=news_title(result, since), blocks=blocks, note=small_print(result))


def news_title(result: ReviewResult, since: str) -> str:
    """ "click: 2 new, 1 fixed since yesterday — 8 commits"; a first review says so."""
    row = result.stored.row
    label = repo_label(row["repo"])
    counts = result.counts
    if not row["base_sha"]:
        standing = counts["new"] + counts["open"]
        if not counts["open"]:
            return f"{label}: first review — {plural(standing, 'finding')}"
        return f"{label}: full review — {standing} open ({counts['new']} new)"
    news = ", ".join(f"{counts[state]} {state}" for state in ("new", "fixed") if counts[state])
    commits = plural(int(row["commits_covered"]), "commit")
    return f"{label}: {news} {since or 'since the last review'} — {commits}"


class Commands:
    """The commands a post names: the chat's, or on the command line `opsdesk findings`."""

    def __init__(self, label: str, on_command_line: bool = False) -> None:
        self.label = label
        quoted = shlex.quote(label)
        self.open = f"opsdesk findings {quoted}" if on_command_line else f"/findings {label}"
        self.suppressed = (
            f"{self.open} --suppressed" if on_command_line else f"{self.open} suppressed"
        )
        self.muted = f"{self.open} --muted" if on_command_line else f"{self.open} muted"
        # The command line lists them in `opsdesk review --json` (skipped_files).
        self.unreviewed = (
            f"opsdesk review {quoted} --json" if on_command_line else f"{self.open} unreviewed"
        )


def quiet_block(result: ReviewResult, since: str, commands: Commands | None = None) -> Block:
    """One line: nothing new, how many stay open, the command that lists them (and how
    many are marked false positive or of a muted rule)."""
    row = result.stored.row
    label = repo_label(row["repo"])
    commands = commands or Commands(label)
    standing = result.counts["new"] + result.counts["open"]
    if result.cache_hit:
        what = f"{label}: no new commits since {short(row['commit_sha'])} was reviewed"
    else:
        covered = int(row["commits_covered"])
        commits = f" ({plural(covered, 'commit')})" if covered else ""
        what = f"{label}: nothing new {since or 'since the last review'}{commits}"
    key = counts_key(result.review_id, row["commit_sha"])
    spans = [Span(text=f"{what} — no open findings")]
    if standing:
        spans = [Span(text=f"{what} — {standing} open: "), _command(commands.open)]
    if result.counts["suppressed"]:
        spans.append(Span(text=f" · {result.counts['suppressed']} marked false positive"))
    if result.counts["muted"]:
        spans.append(Span(text=f" · {result.counts['muted']} of muted rules"))
    return Block(spans=spans, key=key)


def counts_block(result: ReviewResult, commands: Commands | None = None) -> Block:
    """ "6 open in all: /findings click · 1 marked false positive: …" — the block a
    press redraws, keyed by its review."""
    commands = commands or Commands(repo_label(result.stored.row["repo"]))
    counts = result.counts
    standing = counts["new"] + counts["open"]
    spans = [
        Span(text=f"📋 {standing} open in all, most severe first: "),
        _command(commands.open),
    ]
    if counts["suppressed"]:
        spans += [
            Span(text=f" · {counts['suppressed']} marked false positive: "),
            _command(commands.suppressed),
        ]
    if counts["muted"]:
        spans += [Span(text=f" · {counts['muted']} of muted rules: "), _command(commands.muted)]
    return Block(spans=spans, key=counts_key(result.review_id, result.stored.row["commit_sha"]))


def fixed_block(fixed: Sequence[ReviewedFinding]) -> Block:
    """ "✅ 1 fixed: src/click/core.py:3 F401" — the first few, with a count."""
    spans = [Span(text=f"✅ {len(fixed)} fixed: ")]
    for index, finding in enumerate(fixed[:MAX_FIXED_LISTED]):
        if index:
            spans.append(Span(text=", "))
        spans.append(Span(text=location(finding.path, finding.line, finding.cell), style="code"))
        spans.append(Span(text=f" {finding.category}"))
    if len(fixed) > MAX_FIXED_LISTED:
        spans.append(Span(text=f" and {len(fixed) - MAX_FIXED_LISTED} more"))
    return Block(spans=spans)


def not_reviewed_block(files: Sequence[SkippedFile], commands: Commands) -> Block:
    """ "📄 87 files have no linter: /findings click unreviewed" — one line."""
    if all(skipped.reason.startswith(NO_LINTER) for skipped in files):
        what = f"{plural(len(files), 'file')} {'has' if len(files) == 1 else 'have'} no linter"
    else:
        what = f"{plural(len(files), 'file')} not reviewed"
        carried = sum(1 for s in files if s.reason in NOT_REVIEWED_REASONS)
        if carried:
            what += f" ({carried} carried to the next review)"
    return _line(f"📄 {what}: ", commands.unreviewed)


def small_print(result: ReviewResult) -> str:
    """What the review was, in small print: its counts, its commits, its cost."""
    row = result.stored.row
    counts = result.counts
    standing = counts["new"] + counts["open"]
    span = (
        f"{short(row['base_sha'])}..{short(row['commit_sha'])}"
        if row["base_sha"]
        else short(row["commit_sha"])
    )
    parts = [
        f"{standing} open ({counts['new']} new) · {counts['fixed']} fixed · "
        f"{counts['suppressed']} marked false positive"
        + (f" · {counts['muted']} of muted rules" if counts["muted"] else ""),
        f"{'cached ' if result.cache_hit else ''}{row['kind']} review of {span} by "
        f"{row['model'] or row['reviewer_kind']}",
    ]
    if row["reviewer_kind"] == "llm":
        full = result.full_tree_tokens if row["kind"] == "delta" or result.cache_hit else 0
        parts.append(tokens_text(result.tokens, full))
    if result.cache_hit:
        made = int(row["duration_ms"])
        parts.append(f"answered in {duration(result.duration_ms)} instead of {duration(made)}")
    else:
        parts.append(f"took {duration(result.duration_ms)}")
    return " · ".join(parts)


def _command(text: str) -> Span:
    return Span(text=text, style="code")


def _line(text: str, command: str) -> Block:
    return Block(spans=[Span(text=text), _command(command)])


def branch_reply(context: Context, found: BranchReview, *, on_command_line: bool = False) -> Reply:
    """A branch's or pull request's review: what it adds to its base branch (new, most
    severe first, with the finding blocks and buttons of a review, linked to the code at
    the branch's head), what it fixes there, and the command for the rest."""
    result, head, config = found.result, found.head, context.config
    label = repo_label(found.repo)
    limit = _limit(config)
    shown = result.shown
    view = code_view(context, found.repo, head.head_sha, shown[:limit])
    marks = result.stored.marks
    blocks = [Block(text=f"Note: {note}") for note in result.notes]
    blocks += [
        finding_block(f.as_row(), state=f.status, marks=marks.get(f.id, ()), view=view)
        for f in shown[:limit]
    ]
    fixed = [f for f in result.findings if f.status == "fixed"]
    if fixed:
        blocks.append(fixed_block(fixed))
    if not shown and not fixed:
        blocks.append(Block(text=f"It adds no finding to {head.base_label}."))
    commits = plural(int(result.stored.row["commits_covered"]), "commit")
    kind = "cached" if result.cache_hit else "branch"
    title = (
        f"Review {label} {head.label}: {kind} {short(head.head_sha)} "
        f"({commits} on {head.base_label})"
    )
    notes = [small_print(result)]
    if len(shown) > limit:
        ask = (
            f"--pr {head.label[1:]}"
            if head.label.startswith("#")
            else f"--branch {shlex.quote(head.label)}"
        )
        notes.append(
            f"{len(shown) - limit} more: opsdesk review {shlex.quote(label)} {ask} --json "
            "lists them all"
        )
    return Reply(title=title, blocks=blocks, note=" · ".join(notes))


def last_review_stands(context: Context, repo: str, prefix: str = "/") -> str:
    """What a failed review leaves behind, said after its reason: the repository's last
    review still stands (nothing of it was replaced), with the command listing it
    (typed with `prefix`, "/opsdesk " in Slack); "" when it has none."""
    commit = review_commit(context.engine, served_review_id(context.engine, repo))
    if commit is None:
        return ""
    command = f"{prefix}findings {repo_label(repo)}"
    return f"The last review (of {short(commit)}) still stands: {command}"
