"""Heartbeat rows: long-lived components say they are alive; health derives up/down."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.db import session_scope
from storage.models import Heartbeat, utcnow


def beat(
    engine: Engine,
    component: str,
    holder: str,
    status: str,
    detail: dict[str, Any] | None = None,
    *,
    started_at: datetime | None = None,
) -> None:
    """Write `component`'s state now. A new holder resets the start time."""
    try:
        _write_beat(engine, component, holder, status, detail, started_at)
    except IntegrityError:
        # Two first beats at once (a cancelled beat's thread still running while
        # shutdown writes "stopped"): the row exists now, so update it.
        _write_beat(engine, component, holder, status, detail, started_at)


def _write_beat(
    engine: Engine,
    component: str,
    holder: str,
    status: str,
    detail: dict[str, Any] | None,
    started_at: datetime | None,
) -> None:
    with session_scope(engine) as session:
        row = session.get(Heartbeat, component)
        if row is None:
            row = Heartbeat(component=component, holder=holder, status=status)
        if row.holder != holder:
            row.started_at = started_at or utcnow()
        row.holder = holder
        row.status = status
        row.detail = json.dumps(detail or {})
        row.beat_at = utcnow()
        session.add(row)


def read_heartbeat(connection: Connection, component: str) -> Heartbeat | None:
    """The component's row as last written, or None if it never beat."""
    with Session(bind=connection) as session:
        row = session.exec(select(Heartbeat).where(Heartbeat.component == component)).first()
        if row is not None:
            session.expunge(row)
        return row
