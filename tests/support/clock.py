"""A clock a test moves by hand, for `Context.clock` and the outbox's `clock`: time
travels instead of being waited for."""

from __future__ import annotations

from datetime import datetime, timedelta

from storage.models import utcnow


class TravelClock:
    """Stands still at `start` (now, by default) until `advance` moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta | None = None, **parts: float) -> datetime:
        """Move on by `by` or by timedelta(**parts); returns the new time."""
        self.now += by if by is not None else timedelta(**parts)
        return self.now


class SteppedClock:
    """The wall clock as a process sees it: real time passing, from `start`, plus the
    steps a test makes (an NTP correction, a VM restored from a snapshot). Unlike
    TravelClock, time goes on between steps, so a scheduler can tell a step from time
    passing."""

    def __init__(self, start: datetime) -> None:
        self.offset = start - utcnow()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def step(self, by: timedelta) -> datetime:
        self.offset += by
        return self()
