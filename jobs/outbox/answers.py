"""What a platform's answer to a post means: *later* (a rate limit with its wait, a
5xx, no connection, a timeout — retried for as long as it takes, never spending the
attempt budget) or *never* (the post fails for good). The deliverers in bot/ turn each
platform's own errors into these; the outbox (delivery.py) acts on them."""

from __future__ import annotations

from jobs.core.text import duration


class RetryAfter(Exception):
    """The platform asked us to wait (HTTP 429, Telegram's RetryAfter)."""

    def __init__(self, seconds: float, reason: str = "rate limited") -> None:
        super().__init__(f"{reason}; retry after {duration(seconds * 1000)}")
        self.seconds = seconds


class PermanentFailure(Exception):
    """Retrying cannot help (channel not found, bot not in chat, bad request)."""


class Unavailable(Exception):
    """The platform said *later* (a 5xx) or could not be reached: retried with a
    backoff for as long as it takes, never counted against the attempt budget."""


# The longest wait a Retry-After may ask for; a longer one is waited this long.
RETRY_AFTER_CAP_S = 900.0


def means_later(exc: BaseException) -> bool:
    """An answer (or no answer) that says *try again later*: a rate limit, a 5xx, a
    network error, a timeout. Such a failure never spends the attempt budget."""
    return isinstance(exc, RetryAfter | Unavailable | OSError) or is_uncertain(exc)


def is_uncertain(exc: BaseException) -> bool:
    """Did the attempt fail in a way the platform may still have accepted it? A
    timeout (ours or the HTTP library's) is; an answer from the platform is not."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # chains can loop
        seen.add(id(current))
        name = type(current).__name__
        if isinstance(current, TimeoutError) or "Timeout" in name or "TimedOut" in name:
            return True
        current = current.__cause__ or current.__context__
    return False
