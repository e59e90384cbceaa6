"""The blocking part of an inbound command or button press, run in a work-queue
worker after the adapter acknowledged it: the redelivery check, then the handler."""

from __future__ import annotations

from collections.abc import Callable

from handlers.access import Caller
from handlers.router import Router
from jobs.core.reply import Reply
from storage.inbound import first_delivery

INTERRUPTED = Reply.error(
    "opsdesk was stopped before your command finished (a restart or shutdown); "
    "any job it started is recorded as interrupted. Send it again once opsdesk is back."
)


def busy(what: str) -> Reply:
    return Reply.error(f"opsdesk is busy with other {what} right now; send it again in a minute.")


def command_once(
    router: Router, platform: str, key: str, caller: Caller, line: str
) -> Reply | None:
    """None for a redelivery (it was handled already); the handler's reply otherwise."""
    return _first_time(router, platform, key, lambda: router.handle(caller, line))


def press_once(
    router: Router, platform: str, key: str, caller: Caller, payload: str
) -> Reply | None:
    """The same for a button press."""
    return _first_time(router, platform, key, lambda: router.press(caller, payload))


def _first_time(
    router: Router, platform: str, key: str, answer: Callable[[], Reply]
) -> Reply | None:
    """`answer()` unless the platform delivered `key` before (no key: always)."""
    if key and not first_delivery(router.context.engine, platform, key):
        return None
    return answer()
