"""Commands a test adds to a real router: `/slow`, which holds a slow-lane worker until
the test lets it go."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from handlers.router import Command, Request, Router
from jobs.core.reply import Reply


@contextmanager
def slow_command(router: Router, started: list[str] | None = None) -> Iterator[threading.Event]:
    """Adds `/slow`: it notes who asked in `started`, waits for the event it yields (10 s
    at most) and answers "slow done". The event is set on leaving, so no worker is left
    held whatever the test did."""
    release = threading.Event()

    def slow(request: Request) -> Reply:
        if started is not None:
            started.append(request.caller.user_id)
        release.wait(10)
        return Reply.text("slow done", title="Slow")

    router.commands["slow"] = Command("slow", "/slow", "", slow, slow=True)
    try:
        yield release
    finally:
        release.set()
