"""Which optional extras a configuration needs, checked before anything imports them:
`opsdesk config check` and `opsdesk run` name the missing extra instead of failing
with an ImportError halfway through starting."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobs.config.schema import Config
from storage.extras import has_extra, missing_extra_message


@dataclass(frozen=True)
class ExtrasNeeded:
    missing: list[str] = field(default_factory=list)  # each a line naming the extra
    notes: list[str] = field(default_factory=list)  # works without, but less


def extras_needed(config: Config, database_url: str | None) -> ExtrasNeeded:
    """`database_url` is the one in force (the environment's wins over the file's)."""
    wanted: list[tuple[str, str]] = []
    if config.slack.enabled:
        wanted.append(("slack", "slack.enabled = true"))
    if config.telegram.enabled:
        wanted.append(("telegram", "telegram.enabled = true"))
    url = database_url or config.database_url or ""
    if url.startswith("postgres"):
        wanted.append(("postgres", "a PostgreSQL database_url"))
    missing = [
        f"  {missing_extra_message(extra, why)}" for extra, why in wanted if not has_extra(extra)
    ]
    notes = []
    if config.digest.enabled and not has_extra("charts"):
        notes.append(
            "the digest is posted without its chart: "
            + missing_extra_message("charts", "the chart")
        )
    return ExtrasNeeded(missing=missing, notes=notes)
