"""Ids from the outside (button payloads, command arguments), parsed with bounds
before they reach a query: a too-large number is a clear answer, not an
OverflowError or a database error echoing SQL."""

from __future__ import annotations

from handlers.router import UsageError

# The largest id every backend's INTEGER holds (PostgreSQL's is 32-bit signed).
MAX_ID = 2**31 - 1
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(text: str, what: str = "id") -> int:
    """A positive database id, or UsageError naming `what` and the bounds."""
    digits = text.strip()
    if (
        not digits
        or len(digits) > _MAX_DIGITS
        or not digits.isascii()
        or not digits.isdigit()
        or not 1 <= int(digits) <= MAX_ID
    ):
        raise UsageError(f"That {what} is not valid: expected a number from 1 to {MAX_ID}.")
    return int(digits)
