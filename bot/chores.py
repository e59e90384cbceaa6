"""What `opsdesk run` keeps doing while it serves, beside the scheduler and the outbox:
each chat adapter's state written for health, old inbound ids pruned, and the review
scratch space tidied of repositories no longer configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.chat_links import ChatLink, one_line
from jobs.context import Context
from jobs.core.text import plural
from storage import heartbeats
from storage.inbound import forget_older_than

log = logging.getLogger(__name__)

ADAPTER_BEAT_EVERY = 30.0
# Slack and Telegram redeliver within minutes; a week of ids is plenty.
INBOUND_EVENTS_KEPT = timedelta(days=7)


# Clones and checkouts no configured repository uses are removed this long after the
# start (not during it) and then once a day.
TIDY_FIRST_AFTER = 600.0
TIDY_EVERY = 24 * 3600.0


async def tidy_review_scratch(
    context: Context, stop: asyncio.Event, *, first_after: float = TIDY_FIRST_AFTER
) -> None:
    """Remove the clones and checkouts of repositories no longer configured (see
    jobs/review/scratch.py), first `first_after` seconds after the start, then daily."""
    names = [repo.name for repo in context.config.repos]
    wait = first_after
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
        if stop.is_set():
            return
        wait = TIDY_EVERY
        # Here, not at the top: a process that never reviews keeps git's modules out.
        from jobs.review.scratch import tidy

        try:
            tidied = await asyncio.to_thread(tidy, context.data_dir, names)
        except Exception:
            log.exception("could not tidy the review scratch space")
            continue
        if tidied.removed:
            log.info(
                "removed %s that no configured repository uses (%.1f MB freed): %s",
                plural(
                    len(tidied.removed), "unused clone or checkout", "unused clones and checkouts"
                ),
                tidied.freed_bytes / 1e6,
                ", ".join(entry.name for entry in tidied.removed),
            )


def adapter_state_writer(context: Context) -> Callable[[ChatLink], Awaitable[None]]:
    """Writes a chat link's state to its heartbeat row, as health reads it."""

    async def write(link: ChatLink) -> None:
        status, detail = link.status()
        try:
            await asyncio.to_thread(
                heartbeats.beat, context.engine, link.platform, context.runner_id, status, detail
            )
        except Exception as exc:
            log.warning("could not record the %s adapter's state: %s", link.platform, one_line(exc))

    return write


async def watch_adapters(context: Context, links: list[ChatLink], stop: asyncio.Event) -> None:
    """Write each adapter's connection state for health (connecting: which attempt and
    the last error), and prune old inbound ids."""
    while not stop.is_set():
        for link in links:
            await adapter_state_writer(context)(link)
        try:
            await asyncio.to_thread(forget_older_than, context.engine, INBOUND_EVENTS_KEPT)
        except Exception as exc:
            log.warning("could not prune old inbound event ids: %s", one_line(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=ADAPTER_BEAT_EVERY)
    for link in links:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(
                heartbeats.beat, context.engine, link.platform, context.runner_id, "stopped"
            )
