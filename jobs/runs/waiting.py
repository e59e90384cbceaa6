"""What waits for a worker: this process's runs waiting for a slot, and on PostgreSQL
every fire waiting in the queue replicas take fires from (jobs/running/fire_queue.py),
for /metrics, /health and the operator page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from jobs.context import Context
from jobs.core.work_slots import Waiting
from storage.db import is_postgres

# procrastinate's queue of scheduler fires,
QUEUE = "opsdesk-runs"
# and of opsdesk's own (jobs.runs.system.is_own), which wait behind no other.
OWN_QUEUE = "opsdesk-own"
# Queued fires read at most: enough to count a busy night.
MAX_LISTED = 10_000


def waiting_runs(context: Context) -> list[Waiting]:
    """Runs waiting for a worker, longest first: this process's, and on PostgreSQL
    every fire waiting in the queue for any replica."""
    waiting = context.run_control.slots.waiting()
    if not is_postgres(context.engine):
        return waiting
    query = text(
        "SELECT args->>'entry', args->>'queued_at' FROM procrastinate_jobs"
        " WHERE queue_name = :queue AND status = 'todo' ORDER BY id LIMIT :most"
    )
    with context.engine.connect() as connection:
        rows = connection.execute(query, {"queue": QUEUE, "most": MAX_LISTED}).all()
    for entry, queued_at in rows:
        try:
            at = datetime.fromisoformat(queued_at)
        except (TypeError, ValueError):
            continue
        waiting.append(Waiting(str(entry).partition(":")[2], "scheduled", at, 0))
    return sorted(waiting, key=lambda w: w.queued_at)
