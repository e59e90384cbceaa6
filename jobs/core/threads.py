"""Blocking work off the event loop, in threads that never hold up process exit.

Jobs and chat commands run git, linters and database work that blocks; a job that
ignores shutdown must not keep the process alive (its run is recorded `interrupted`
after the grace), so the threads are daemons, unlike asyncio.to_thread's.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_daemon_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Like asyncio.to_thread, but the thread does not hold up process exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _settle_from_thread(loop, future, None, exc)
        else:
            _settle_from_thread(loop, future, result, None)

    threading.Thread(
        target=work, daemon=True, name=f"job-{getattr(fn, '__name__', 'work')}"
    ).start()
    return await future


def _settle_from_thread(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    exc: BaseException | None,
) -> None:
    # RuntimeError: the loop has closed (shutdown gave up on this work); nobody waits.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, result, exc)


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
