"""What the aiohttp stand-ins share: serving on 127.0.0.1 at a port the system picks,
the faults a chat platform can give a post, and waiting for what they were sent (woken
by each request, never by a timer)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Self

from aiohttp import web

# Faults a post can be given (bench/outbox_faults.py and tests): slow: answers after
# `slow_s`; fail: 500, not accepted; hang: no answer for `hang_s`, not accepted;
# late: no answer for `hang_s`, accepted after `late_s`.
FAULTS = ("slow", "fail", "hang", "late")


async def serve_locally(app: web.Application) -> tuple[web.AppRunner, str]:
    """Start `app`; its runner (cleanup() stops it) and its base URL, no trailing slash."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@dataclass
class LocalStandIn:
    """A chat platform's API served on 127.0.0.1 from start() until stop(); as an async
    context manager, for the length of the block."""

    slow_s: float = 0.3
    hang_s: float = 3.0
    late_s: float = 1.5
    _runner: web.AppRunner | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # Set whenever what the stand-in was sent may have changed.
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        raise NotImplementedError  # each platform's stand-in serves its own routes

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def serve(self, app: web.Application) -> str:
        """Serve `app`; its base URL, no trailing slash."""
        app.middlewares.append(self._touched_after)
        self._runner, base_url = await serve_locally(app)
        return base_url

    def touch(self) -> None:
        """Wake whoever waits in `until`: something was recorded."""
        self._changed.set()

    @web.middleware
    async def _touched_after(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            self.touch()

    async def until(
        self, condition: Callable[[], object], timeout: float, failure: Callable[[], str]
    ) -> None:
        """Return once `condition()` holds, looking again after each request; raise
        AssertionError(failure()) after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            if condition():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(failure())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def failed_post(self, fault: str, accept: Callable[[], object]) -> None:
        """Before a failed post's answer: a "late" one is accepted (`accept()`) after
        `late_s` although the client gave up on it; "hang" and "late" keep it waiting."""
        if fault == "late":
            task = asyncio.create_task(self._accept_later(accept))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if fault in ("hang", "late"):
            await asyncio.sleep(self.hang_s)

    async def _accept_later(self, accept: Callable[[], object]) -> None:
        await asyncio.sleep(self.late_s)
        accept()
        self.touch()
