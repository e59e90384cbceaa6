"""Where posts cannot go: targets with posts that failed for good.

A channel the bot was never invited to fails its first post permanently, and every
later one the same way; nothing else would show it. Derived at read time from the
outbox rows, like every other health state. A failed post stays shown until someone
acts on it (`/outbox retry`, `/outbox drop`): a later post that goes through does not
make the lost one less lost.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from jobs.health.component import Component
from jobs.outbox.failed import failed_by_target

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
    """A `degraded` component for each target with posts that failed for good, shown
    until someone retries or drops them (`/outbox`)."""
    components = []
    for failed in failed_by_target(engine):
        count = "a post" if failed.count == 1 else f"{failed.count} posts"
        components.append(
            Component(
                f"posts to {failed.target}",
                "degraded",
                f"{count} failed for good: {reason_of(failed.error)} — fix: "
                f"{fix_for(failed.error)}; then /outbox retry sends again",
                {"target": failed.target, "failed": failed.count, "error": failed.error[:500]},
            )
        )
    return components
