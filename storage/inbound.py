"""Inbound event ids: has this command or button press been handled already?"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from storage.db import session_scope
from storage.models import InboundEvent, utcnow


def first_delivery(engine: Engine, platform: str, event_key: str) -> bool:
    """Record the event; True the first time it is seen, False for a redelivery.
    Atomic across processes through the table's unique constraint."""
    try:
        with session_scope(engine) as session:
            session.add(InboundEvent(platform=platform, event_key=event_key[:255]))
        return True
    except IntegrityError:
        return False


def forget_older_than(engine: Engine, age: timedelta, now: datetime | None = None) -> int:
    """Drop ids older than any platform redelivers (Slack retries within minutes)."""
    cutoff = (now or utcnow()) - age
    with session_scope(engine) as session:
        result = session.execute(delete(InboundEvent).where(col(InboundEvent.received_at) < cutoff))
        return int(result.rowcount)  # type: ignore[attr-defined]
