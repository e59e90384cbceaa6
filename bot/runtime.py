"""`opsdesk run`: one asyncio process with the scheduler, the outbox sender and the
configured chat adapters. SIGTERM/SIGINT stop it cleanly: no new fires or commands;
running jobs, scheduled or started from chat, get the same grace and cancel signal
and are otherwise recorded as interrupted (a chat requester is told); the outbox
hands back its claims and keeps what is pending for the next start."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, TypeVar

from bot import __version__
from bot.adapters import ChatAdapter, build_adapters
from bot.chat_links import ChatLink, one_line
from bot.chores import adapter_state_writer, tidy_review_scratch, watch_adapters
from bot.log_deliverer import LogDeliverer
from bot.wiring import build_context, open_database
from bot.work_queue import WorkQueue
from jobs.config.loading import Settings
from jobs.context import Context
from jobs.core.text import plural
from jobs.core.threads import in_daemon_thread
from jobs.outbox.delivery import Deliverer, OutboxSender
from jobs.outbox.waiting import release_claims
from jobs.review.feedback import record_shown
from jobs.running.scheduler import JobScheduler
from jobs.runs import records as runs
from jobs.runs.specs import job_specs
from storage.db import describe

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.operator.server import OperatorServer

T = TypeVar("T")

log = logging.getLogger(__name__)


async def run_forever(
    settings: Settings, *, stop: asyncio.Event | None = None, shutdown_grace: float | None = None
) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set); returns the exit code: 0, or 2 when
    a chat platform refused the configuration (a rejected token). Running jobs get
    `scheduler.shutdown_grace` (or `shutdown_grace` seconds) to finish. SIGTERM is
    heard from the first moment, start-up included."""
    stop = stop or asyncio.Event()
    if shutdown_grace is None:
        grace = settings.config.scheduler.shutdown_grace.total_seconds()
    else:
        grace = shutdown_grace
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        engine = await until_stopped(
            in_daemon_thread(open_database, settings, migrate_in_child=True), stop
        )
        if engine is None:
            log.info("stopped during start-up")
            return 0
        try:
            return await serve(settings, engine, stop, grace)
        finally:
            engine.dispose()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """`work`'s result, or None as soon as `stop` is set first (the work is left to
    end on its own: a daemon thread does not hold up the exit)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    return None


async def serve(settings: Settings, engine: Engine, stop: asyncio.Event, grace: float) -> int:
    """Jobs first, chat when it can be had: the scheduler and the outbox start at once,
    each chat adapter connects in the background (bot/chat_links.py)."""
    context = build_context(settings, engine=engine)
    abandoned = await asyncio.to_thread(runs.mark_abandoned, engine, context.runner_id)
    if abandoned:
        log.warning("runs %s were left running by a stopped process: abandoned", abandoned)
    # One queue for what chat commands do, on the same stop signal as scheduled jobs.
    queue = WorkQueue(context.run_control)
    adapters: list[ChatAdapter] = []
    if settings.config.slack.enabled or settings.config.telegram.enabled:
        # The handlers (and the review engine behind /review) load only when a chat
        # can reach them.
        from handlers.catalog import build_router

        adapters = build_adapters(settings, build_router(context), queue)  # ConfigError: caller
    # `log:` (and console) posts are written to the log; a chat platform's posts are
    # sent while its adapter is connected, and otherwise wait (health names them).
    deliverers: dict[str, Deliverer] = {"log": LogDeliverer(), "console": LogDeliverer()}
    sender = outbox_sender(context, deliverers)
    links = [
        ChatLink(adapter, sender, report=adapter_state_writer(context)) for adapter in adapters
    ]
    heartbeat = settings.config.scheduler.heartbeat.total_seconds()
    scheduler = JobScheduler(
        context, shutdown_grace=grace, heartbeat_every=heartbeat, lock_retry=heartbeat / 2
    )
    operator: OperatorServer | None = None
    sender_stop, links_stop = asyncio.Event(), asyncio.Event()
    sender_task = asyncio.create_task(sender.run(sender_stop, poll_interval=1.0))
    background = [sender_task]
    connecting: list[asyncio.Task[None]] = []
    try:
        # First, so probes answer while the adapters connect.
        operator = await start_operator(settings, context, scheduler)
        await scheduler.start()
        for link in links:
            connecting.append(asyncio.create_task(connected_or_refused(link, links_stop, stop)))
        background.append(asyncio.create_task(watch_adapters(context, links, sender_stop)))
        background.append(asyncio.create_task(tidy_review_scratch(context, sender_stop)))
        page = f"http://{operator.host}:{operator.bound_port}/" if operator else None
        line = await start_line(settings, context, links, scheduler, page)
        if not any(link.refused for link in links):  # a refusal is said, and we stop
            log.info("%s", line)
        keep_start_up_out_of_collections()
        await stop.wait()
        log.info("stopping")
    finally:
        gc.unfreeze()  # what start-up made may be collected again (a process that goes on)
        links_stop.set()
        await asyncio.gather(*connecting, return_exceptions=True)
        # Scheduled and chat-started runs: the same grace, then the same cancel signal.
        await asyncio.gather(scheduler.stop(), queue.drain(grace))
        await _interrupt_chat_runs(context)
        await queue.give_up()  # their requesters are told, while the adapters are up
        sender_stop.set()
        await _last_posts(sender, background)
        for link in reversed(links):
            try:
                await link.stop()  # no post goes through an adapter once it is stopped
            except Exception:
                log.exception("stopping the %s adapter failed", link.platform)
        await _hand_back_claims(context)
        if operator is not None:
            await operator.stop()
    refused = [link.refused for link in links if link.refused]
    return 2 if refused else 0


def keep_start_up_out_of_collections() -> None:
    """What start-up made (modules, classes, tables, adapters) lives as long as the
    process: collected once, then frozen out of the garbage collector's sight until
    it stops. Else a full collection, set off later by a burst of allocations (a
    command module's first import, a review), walks all of it with the GIL held:
    measured, the event loop stood still for 65-80 ms, every Slack ack waiting
    meanwhile too; frozen, 5-9 ms."""
    gc.collect()
    gc.freeze()


async def _interrupt_chat_runs(context: Context) -> None:
    """Chat-started runs still going after the grace are recorded as interrupted."""
    left = context.run_control.active()
    if not left:
        return
    try:
        count = await asyncio.to_thread(
            runs.interrupt, context.engine, left, "opsdesk stopped before the run finished"
        )
        log.warning("%s recorded as interrupted", plural(count, "chat-started run"))
    except Exception as exc:
        log.warning("could not record interrupted chat-started runs: %s", one_line(exc))


async def _last_posts(sender: OutboxSender, background: list[asyncio.Task[None]]) -> None:
    """The sender and the chores stop (a send waiting out a 429 is cancelled: its claim
    is handed back later); posts made by the last runs go out now if they can, while
    the adapters are still up; the rest wait in storage."""
    _, still = await asyncio.wait(background, timeout=SENDER_STOP_S)
    for task in still:
        task.cancel()
    await asyncio.gather(*still, return_exceptions=True)
    try:
        await asyncio.wait_for(sender.send_due(), timeout=5)
    except Exception:
        log.warning("pending posts stay in the outbox for the next start")


async def _hand_back_claims(context: Context) -> None:
    """Posts this process claimed and did not send wait for the next start."""
    try:
        released = await asyncio.to_thread(release_claims, context.engine, context.runner_id)
    except Exception as exc:
        log.warning("could not hand posts back to the outbox: %s", one_line(exc))
        return
    if released:
        log.info("%s handed back to the outbox for the next start", plural(released, "post"))


async def connected_or_refused(
    link: ChatLink, links_stop: asyncio.Event, stop: asyncio.Event
) -> None:
    """Connect `link` in the background; a refusal stops the whole process."""
    await link.connect(links_stop)
    if link.refused:
        stop.set()


# ---- the operator's surface: its start and stop are kept to this one place.
def outbox_sender(context: Context, deliverers: Mapping[str, Deliverer]) -> OutboxSender:
    """The sender of every post; a delivered post's findings count as shown in its chat."""
    engine = context.engine
    return OutboxSender(
        engine,
        deliverers,
        worker_id=context.runner_id,
        on_sent=lambda target, reply: record_shown(engine, target, reply),
    )


async def start_operator(
    settings: Settings, context: Context, scheduler: JobScheduler
) -> OperatorServer | None:
    """The probes, /metrics, API and page server, unless `[operator].enabled` is off.
    Raises OperatorStartError when its address is taken."""
    config = settings.config
    if not config.operator.enabled:
        return None
    from bot.operator.server import start_operator_surface

    def leadership() -> bool | None:
        return scheduler.leading.is_set() if config.scheduler.enabled else None

    token = settings.secrets.operator_token
    return await start_operator_surface(
        context,
        listen=config.operator.address(),
        token=token.get_secret_value() if token else None,
        leadership=leadership,
    )


# How long the start line waits to tell a scheduler leader from a standby, and for
# each chat adapter's first attempt to connect.
LEADER_WAIT = 3.0
CHAT_WAIT = 10.0


async def start_line(
    settings: Settings,
    context: Context,
    links: list[ChatLink],
    scheduler: JobScheduler,
    page: str | None = None,
) -> str:
    """The one line `opsdesk run` says when it is up: adapters and their modes, the
    scheduler's role, the job count, the operator page and the database (without
    its password)."""
    modes = {"slack": settings.config.slack.mode, "telegram": settings.config.telegram.mode}
    chats = ", ".join(
        f"{link.platform} ({modes.get(link.platform, '?')}"
        f"{'' if link.state == 'up' else ', connecting'})"
        for link in links
    )
    with contextlib.suppress(TimeoutError):
        # Reachable platforms are connected before the line; unreachable ones say so.
        await asyncio.wait_for(
            asyncio.gather(*(link.first_try.wait() for link in links)), timeout=CHAT_WAIT
        )
    if not settings.config.scheduler.enabled:
        role = "scheduler off"
    else:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(scheduler.leading.wait(), timeout=LEADER_WAIT)
        role = "scheduler leader" if scheduler.leading.is_set() else "scheduler standby"
    jobs = len(job_specs(context.config))
    return (
        f"opsdesk {__version__} started: chat {chats or 'none (posts go to the log)'}; "
        f"{role}; {plural(jobs, 'job')}, "
        f"{len(scheduler.entries())} scheduled; "
        f"{f'operator page {page}' if page else 'operator page off'}; "
        f"database {describe(context.engine)}"
    )


# How long the outbox sender gets to finish its current send at shutdown.
SENDER_STOP_S = 2.0
