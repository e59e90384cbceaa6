"""The digest and its alert posts as `Reply`s. Here in jobs/ (not handlers/) because
the scheduled digest posts them too, and jobs never import handlers."""

from __future__ import annotations

from jobs.digest import fmt
from jobs.digest.alerts import AlertPost
from jobs.digest.model import Digest
from jobs.digest.text import digest_lines
from jobs.reply import Block, Image, Reply, ReplyField

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


def digest_reply(digest: Digest, chart_png: bytes | None = None) -> Reply:
    """Summary first, insights as prose, the tables monospaced, notes as small print,
    and the 14-day chart attached when given."""
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
    return Reply(
        title=f"{_TITLE[digest.period]}: "
        + (fmt.plural(len(digest.insights), "insight") if digest.insights else "nothing to flag"),
        blocks=blocks,
        fields=[
            ReplyField(
                label="Period",
                value=f"{digest.start:%Y-%m-%d %H:%M} to {digest.end:%Y-%m-%d %H:%M} UTC",
            )
        ],
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
