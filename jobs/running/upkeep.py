"""What the scheduler's leader does after each heartbeat besides scheduling: close the
runs of processes that died, write the misses an outage kept back, queue the posts a
dying process did not, and, once a day,
delete what is past `[storage] keep_runs`."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from jobs.context import Context
from jobs.core.text import plural, span
from jobs.running.lost_posts import GRACE, LOOK_BACK, post_lost_posts
from jobs.running.missed import MissLedger
from jobs.runs import records as runs
from jobs.runs.retention import prune

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(days=1)


class LeaderUpkeep:
    def __init__(self, context: Context, misses: MissLedger) -> None:
        self.context = context
        self.misses = misses
        self._pruned_at: datetime | None = None
        # Runs that ended up to here have been looked at for a post nobody queued.
        self._posts_looked_to: datetime | None = None

    def after_heartbeat(self) -> None:
        self.reclaim_orphans()
        self.misses.flush()
        self.post_lost_posts()
        self.prune_when_due()

    def reclaim_orphans(self) -> None:
        """Runs whose process died (kill -9, a lost container, a replica's power) are
        closed while the other replicas live, not at the next start: from their
        heartbeats (any host), or at once when the process is gone from this host."""
        context = self.context
        orphans = runs.mark_abandoned(context.engine, context.runner_id, own_pid_is_new=False)
        if orphans:
            log.warning("runs %s were left running by a process that died: abandoned", orphans)

    def post_lost_posts(self) -> None:
        """Queue the posts of runs whose process died between their end and their
        post (see lost_posts)."""
        until = self.context.clock() - GRACE
        since = self._posts_looked_to or until - LOOK_BACK
        if until <= since:
            return
        posted = post_lost_posts(self.context, since, until)
        self._posts_looked_to = until
        if posted:
            log.warning("runs %s ended without their post (process died): posted now", posted)

    def prune_when_due(self) -> None:
        """Retention, once a day (the first at the leader's first heartbeat)."""
        now = self.context.clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        keep = self.context.config.storage.keep_runs
        pruned = prune(self.context.engine, keep, now)
        if pruned.runs or pruned.posts:
            log.info(
                "retention: deleted %s and %s older than %s",
                plural(pruned.runs, "run"),
                plural(pruned.posts, "delivered post"),
                span(keep),
            )
