"""Commands a test adds to a real router: `/slow`, which holds a slow-lane worker until
the test lets it go."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from handlers.router import Command, Request, Router
from jobs.core.reply import Reply
from tests.support.waiting import HANG_GUARD_S

# Notified each time a `/slow` starts, so a test can wait for the workers it expects.
_STARTED = threading.Condition()


def wait_started(started: list[str], count: int) -> None:
    """Until `count` slow commands have started (a worker runs each)."""
    with _STARTED:
        assert _STARTED.wait_for(lambda: len(started) >= count, HANG_GUARD_S), started


@contextmanager
def slow_command(router: Router, started: list[str] | None = None) -> Iterator[threading.Event]:
    """Adds `/slow`: it notes who asked in `started`, waits for the event it yields (10 s
    at most) and answers "slow done". The event is set on leaving, so no worker is left
    held whatever the test did."""
    release = threading.Event()

    def slow(request: Request) -> Reply:
        if started is not None:
            with _STARTED:
                started.append(request.caller.user_id)
                _STARTED.notify_all()
        release.wait(10)
        return Reply.text("slow done", title="Slow")

    router.commands["slow"] = Command("slow", "/slow", "", slow, slow=True)
    try:
        yield release
    finally:
        release.set()
