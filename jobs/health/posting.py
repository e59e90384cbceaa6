"""Where posts cannot go: a target whose latest post failed for good.

A channel the bot was never invited to fails its first post permanently, and every
later one the same way; nothing else would show it. Derived at read time from the
outbox rows (the newest finished post per target), like every other health state:
a later post that goes through clears it.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from jobs.health.component import Component
from storage.models import OutboxPost

# What a permanent failure's error says → what the operator should do about it.
FIXES: list[tuple[tuple[str, ...], str]] = [
    (("not_in_channel",), "invite @opsdesk to that channel (/invite @opsdesk in it)"),
    (
        ("channel_not_found",),
        "the channel does not exist or is private: check the id, or invite @opsdesk to it",
    ),
    (("is_archived",), "the channel is archived: unarchive it or post somewhere else"),
    (
        ("chat not found", "chat_not_found"),
        "add the bot to that Telegram chat, or check the chat id",
    ),
    (("bot was kicked", "bot is not a member"), "add the bot to that Telegram chat again"),
    (("blocked by the user",), "the user blocked the bot: they must unblock it"),
    (
        ("invalid_auth", "token_revoked", "not_authed", "account_inactive"),
        "the bot token was rejected: set a valid one in the environment",
    ),
    (("missing_scope",), "reinstall the app with the scopes in manifest.yml"),
    (("that adapter is not configured",), "enable that platform's adapter in the config"),
]
GENERIC_FIX = "check the target in the config and the bot's access to it"


def fix_for(error: str) -> str:
    lowered = error.lower()
    for needles, fix in FIXES:
        if any(needle in lowered for needle in needles):
            return fix
    return GENERIC_FIX


def reason_of(error: str) -> str:
    """The platform's own words, without our exception class name."""
    reason = error.split(": ", 1)[1] if error.startswith("PermanentFailure: ") else error
    return reason.split(" (", 1)[0][:200]


def check_post_targets(engine: Engine) -> list[Component]:
    """A `degraded` component for each target whose newest finished post failed."""
    newest = (
        select(func.max(OutboxPost.id))
        .where(col(OutboxPost.status).in_(["sent", "failed"]))
        .group_by(col(OutboxPost.target))
    )
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxPost.target, OutboxPost.last_error)
            .where(col(OutboxPost.id).in_(newest), col(OutboxPost.status) == "failed")
            .order_by(col(OutboxPost.target))
        ).all()
    components = []
    for target, error in rows:
        error = error or "failed"
        components.append(
            Component(
                f"posts to {target}",
                "degraded",
                f"posts fail: {reason_of(error)} — fix: {fix_for(error)}",
                {"target": target, "error": error[:500]},
            )
        )
    return components
