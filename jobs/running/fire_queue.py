"""Where a scheduler fire runs: the leader decides *when*, this decides *where*.

SQLite (one machine): in this process, at once — `LocalFires`. PostgreSQL: through
procrastinate, a maintained PostgreSQL task queue (`SKIP LOCKED` + `LISTEN/NOTIFY`,
per-key locks, worker heartbeats): the leader defers each fire as a job, and every
replica's worker, `[scheduler] workers` at a time, takes whichever is next —
`QueuedFires`. Either way the fire runs through `jobs.running.fires.run_fired`.
opsdesk's own jobs (the health check, the digest) have a queue and a worker of their
own on every replica, so they never wait behind the night's runs.

- A job never overlaps itself on any replica, so one review per repository at a
  time across replicas: each fire's job is locked by its entry (procrastinate runs
  no two jobs of one lock at once; the review's own advisory lock stays as the
  second guard). A fire while the entry's previous one still waits or runs is
  recorded missed, as it always was.
- A replica that dies mid-run: its worker's heartbeats stop, and the leader's sweep
  (every scheduler heartbeat) records its run interrupted (unless the dead process's
  run was already closed `abandoned`) and hands its job back to the queue once; the
  second time it is given up. A fire that already has a finished run is never run
  again, so a job never runs twice to completion and never posts twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.engine import Engine

from jobs.context import Context
from jobs.core.threads import in_daemon_thread
from jobs.core.work_slots import Waiting
from jobs.running.fires import FireOptions, run_fired
from jobs.running.missed import JOB_PREFIX
from jobs.runs import records as runs
from jobs.runs.system import is_own
from jobs.runs.waiting import OWN_QUEUE, QUEUE
from storage.db import is_postgres
from storage.models import JobRun

log = logging.getLogger(__name__)

RUN_TASK = "opsdesk.run_fired"
# A job that stalled (its replica died) is handed back this many times, then failed.
RETRIES = 1
FINISHED = ("ok", "failed", "timeout", "cached")

Track = Callable[[int], None]


# After the grace, how long stopping the worker (and then the pool) may take.
STOP_AFTER_GRACE_S = 2.0


class Fires(Protocol):
    async def start(self) -> None: ...
    async def submit(
        self, entry: str, scheduled_at: datetime, on_start: Track, place: Waiting | None
    ) -> Awaitable[None] | None:
        """Hand the fire over; what is left to wait for while it runs here, if anything."""

    async def sweep(self) -> None: ...
    def wait_settled(self, timeout: float) -> bool:
        """Block until every fire handed over from here has been run (or skipped)
        by this process's worker; for tests and benches that wait for a signal."""
        ...

    async def stop(self) -> None: ...


def fires_for(context: Context, cancel: Any, *, heartbeat_s: float, grace_s: float) -> Fires:
    if is_postgres(context.engine):
        return QueuedFires(context, cancel, heartbeat_s=heartbeat_s, grace_s=grace_s)
    return LocalFires(context, cancel)


class LocalFires:
    """SQLite: the fire runs here, now, in its own thread."""

    def __init__(self, context: Context, cancel: Any) -> None:
        self.context = context
        self.cancel = cancel

    async def start(self) -> None:
        return None

    async def submit(
        self, entry: str, scheduled_at: datetime, on_start: Track, place: Waiting | None
    ) -> Awaitable[None] | None:
        fire = FireOptions(scheduled_at, self.cancel, on_start, place)
        return in_daemon_thread(run_fired, self.context, entry, fire)

    async def sweep(self) -> None:
        return None

    def wait_settled(self, timeout: float) -> bool:
        return True  # a local fire has run when `submit`'s awaitable is done

    async def stop(self) -> None:
        return None


def fire_finished(engine: Engine, entry: str, scheduled_at: datetime) -> bool:
    """Whether a job fire already has a finished run (a batch's is never skipped)."""
    if not entry.startswith(JOB_PREFIX):
        return False
    table = JobRun.__table__  # type: ignore[attr-defined]
    query = (
        select(table.c.id)
        .where(table.c.job == entry.partition(":")[2], table.c.scheduled_at == scheduled_at)
        .where(table.c.status.in_(FINISHED))
        .limit(1)
    )
    with engine.connect() as connection:
        return connection.execute(query).first() is not None


def interrupt_fire(engine: Engine, entry: str, scheduled_at: str, why: str) -> int:
    """The fire's runs still marked running (their replica died) recorded interrupted."""
    if not entry.startswith(JOB_PREFIX):
        return 0
    table = JobRun.__table__  # type: ignore[attr-defined]
    query = select(table.c.id).where(
        table.c.job == entry.partition(":")[2],
        table.c.scheduled_at == datetime.fromisoformat(scheduled_at),
        table.c.status == "running",
    )
    with engine.connect() as connection:
        ids = [int(row[0]) for row in connection.execute(query)]
    return runs.interrupt(engine, ids, why)


def conninfo(engine: Engine) -> str:
    """The engine's database as a libpq URL (procrastinate's psycopg pool)."""
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class QueuedFires:
    """PostgreSQL: fires are procrastinate jobs; every replica's worker runs them."""

    def __init__(self, context: Context, cancel: Any, *, heartbeat_s: float, grace_s: float):
        import procrastinate

        self.context = context
        self.cancel = cancel
        self.heartbeat_s = heartbeat_s
        self.grace_s = grace_s
        self.app = procrastinate.App(
            # Each of the two workers keeps one connection to LISTEN on; the rest
            # fetch, finish and defer jobs.
            connector=procrastinate.PsycopgConnector(
                conninfo=conninfo(context.engine), min_size=1, max_size=6
            ),
            worker_defaults={"install_signal_handlers": False},
        )
        self.task = self.app.task(name=RUN_TASK, queue=QUEUE, pass_context=True)(self._run)
        self._workers: list[asyncio.Task[None]] = []
        self._progress = threading.Condition()
        self._handed = self._ran = 0
        self._tracking: dict[int, Track] = {}
        self._opened = False

    async def start(self) -> None:
        await self.app.open_async()
        self._opened = True
        for queue, concurrency in (
            (QUEUE, self.context.run_control.slots.workers),
            (OWN_QUEUE, 1),
        ):
            worker = self.app.run_worker_async(
                queues=[queue],
                concurrency=concurrency,
                name=f"{self.context.runner_id}:{queue}",
                wait=True,
                listen_notify=True,
                fetch_job_polling_interval=max(self.heartbeat_s, 1.0),
                update_heartbeat_interval=max(self.heartbeat_s / 2, 0.5),
                stalled_worker_timeout=max(self.heartbeat_s * 3, 3.0),
                shutdown_graceful_timeout=self.grace_s,
                delete_jobs="successful",
            )
            self._workers.append(asyncio.create_task(worker, name=f"fire-queue-worker {queue}"))

    async def submit(
        self, entry: str, scheduled_at: datetime, on_start: Track, place: Waiting | None
    ) -> Awaitable[None] | None:
        """Queued for whichever replica has a free worker (`place` is this process's
        and stays unused: the leader's fire takes no slot here)."""
        from procrastinate.exceptions import AlreadyEnqueued

        # The entry is its own lock: a job never overlaps itself on any replica (a
        # repository's review is one entry), and a fire while the previous one waits or
        # runs is a miss, as it always was.
        going = await self.app.connector.execute_query_one_async(
            query="SELECT count(*) AS n FROM procrastinate_jobs"
            " WHERE lock = %(lock)s AND status IN ('todo', 'doing')",
            lock=entry,
        )
        if going["n"]:
            raise FireStillWaiting(entry)
        try:
            queue = OWN_QUEUE if is_own(entry.partition(":")[2]) else QUEUE
            await self.task.configure(lock=entry, queueing_lock=entry, queue=queue).defer_async(
                entry=entry,
                scheduled_at=scheduled_at.isoformat(),
                queued_at=self.context.clock().isoformat(),
            )
        except AlreadyEnqueued:
            raise FireStillWaiting(entry) from None
        with self._progress:
            self._handed += 1
        return None

    async def _run(self, job_context: Any, entry: str, scheduled_at: str, queued_at: str) -> None:
        at = datetime.fromisoformat(scheduled_at)
        try:
            if await asyncio.to_thread(fire_finished, self.context.engine, entry, at):
                log.info("%s of %s already finished; not run again", entry, scheduled_at)
                return
            cancel = self.context.run_control.cancel
            fire = FireOptions(at, cancel, _no_tracking, None, datetime.fromisoformat(queued_at))
            await in_daemon_thread(run_fired, self.context, entry, fire)
        finally:
            with self._progress:
                self._ran += 1
                self._progress.notify_all()

    def wait_settled(self, timeout: float) -> bool:
        with self._progress:
            return self._progress.wait_for(lambda: self._ran >= self._handed, timeout)

    async def sweep(self) -> None:
        """Leader only: a fire whose replica stopped beating (it died mid-run) has its
        run recorded interrupted and goes back to the queue once; the second time it
        is given up."""
        from procrastinate.jobs import Status

        manager = self.app.job_manager
        stalled = [
            job
            for queue in (QUEUE, OWN_QUEUE)
            for job in await manager.get_stalled_jobs(
                queue=queue, seconds_since_heartbeat=max(self.heartbeat_s * 3, 3.0)
            )
        ]
        for job in stalled:
            entry, at = str(job.task_kwargs["entry"]), str(job.task_kwargs["scheduled_at"])
            again = job.attempts < RETRIES
            why = "its replica stopped mid-run; " + (
                "run again on another" if again else "given up after a second try"
            )
            await asyncio.to_thread(interrupt_fire, self.context.engine, entry, at, why)
            log.warning("%s of %s: %s", entry, at, why)
            if again:
                await manager.retry_job(job)
            else:
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)

    async def stop(self) -> None:
        """The worker gets the grace for its runs, then aborts them; a run whose end is
        kept for an unreachable database (storage/durable.py) never finishes its task,
        so the wait for the worker, and for the pool's close, is bounded: SIGTERM during
        an outage still ends opsdesk within the grace."""
        for worker in self._workers:
            worker.cancel()
        if self._workers:
            await asyncio.wait(self._workers, timeout=self.grace_s + STOP_AFTER_GRACE_S)
        if self._opened:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.app.close_async(), STOP_AFTER_GRACE_S)


class InOrder:
    """Fires reach the queue in the order they came: each takes a number when it
    fires (before any await) and hands over on its turn; `done` ends a turn, taken
    or not, so a fire that returns early never holds up the next."""

    def __init__(self) -> None:
        self._numbers = itertools.count()
        self._next = 0
        self._done: set[int] = set()
        self._waiting: dict[int, asyncio.Future[None]] = {}

    def number(self) -> int:
        return next(self._numbers)

    async def turn(self, number: int) -> None:
        if number == self._next:
            return
        self._waiting[number] = asyncio.get_running_loop().create_future()
        try:
            await self._waiting[number]
        finally:
            self._waiting.pop(number, None)

    def done(self, number: int) -> None:
        self._done.add(number)
        while self._next in self._done:
            self._done.discard(self._next)
            self._next += 1
        up = self._waiting.get(self._next)
        if up is not None and not up.done():
            up.set_result(None)


class FireStillWaiting(Exception):
    """The entry's previous fire is still waiting in the queue."""


def _no_tracking(_run_id: int) -> None:
    return None
