"""/digest [day|week]: the optimization digest with its 14-day chart."""

from __future__ import annotations

from handlers.router import Request, UsageError
from jobs.core.reply import Reply
from jobs.digest.inputs import Period, as_period
from jobs.digest.job import digest_answer


def parse_period(args: list[str]) -> Period:
    """No argument is a day; otherwise exactly one of day or week."""
    if not args:
        return "day"
    period = as_period(args[0]) if len(args) == 1 else None
    if period is None:
        raise UsageError(f"Unknown period {' '.join(args)!r}: use day or week.")
    return period


def digest(request: Request) -> Reply:
    """The digest of the last day or week, computed from the run records."""
    period = parse_period(request.args)
    return digest_answer(request.context, period, request.context.clock())
