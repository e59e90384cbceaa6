"""Heartbeat rows: long-lived components say they are alive; health derives up/down."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import case
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, select

from storage.models import Heartbeat, utcnow

HEARTBEATS = Heartbeat.__table__  # type: ignore[attr-defined]


def beat(
    engine: Engine,
    component: str,
    holder: str,
    status: str,
    detail: dict[str, Any] | None = None,
    *,
    started_at: datetime | None = None,
) -> None:
    """Write `component`'s state now, in one atomic upsert: two first beats at once
    (a cancelled beat's thread still running while shutdown writes "stopped", or two
    replicas) cannot both insert. A new holder resets the start time."""
    now = utcnow()
    insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(HEARTBEATS).values(
        component=component,
        holder=holder,
        status=status,
        detail=json.dumps(detail or {}),
        started_at=started_at or now,
        beat_at=now,
    )
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[HEARTBEATS.c.component],
        set_={
            "started_at": case(
                (HEARTBEATS.c.holder != new.holder, new.started_at),
                else_=HEARTBEATS.c.started_at,
            ),
            "holder": new.holder,
            "status": new.status,
            "detail": new.detail,
            "beat_at": new.beat_at,
        },
    )
    with engine.begin() as connection:
        connection.execute(statement)


def read_heartbeat(connection: Connection, component: str) -> Heartbeat | None:
    """The component's row as last written, or None if it never beat."""
    with Session(bind=connection) as session:
        row = session.exec(select(Heartbeat).where(Heartbeat.component == component)).first()
        if row is not None:
            session.expunge(row)
        return row
