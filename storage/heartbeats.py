"""Heartbeat rows: long-lived components say they are alive; health derives up/down."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import case
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, select

from storage.models import Heartbeat, utcnow

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

HEARTBEATS = Heartbeat.__table__  # type: ignore[attr-defined]


def _upsert_insert(engine: Engine) -> SqliteInsert | PostgresqlInsert:
    """The dialect's own INSERT (both have ON CONFLICT DO UPDATE). PostgreSQL's is
    imported only for a PostgreSQL engine: a SQLite process does not carry SQLAlchemy's
    PostgreSQL dialect package (measured in docs/performance.md)."""
    if engine.dialect.name != "postgresql":
        return sqlite_insert(HEARTBEATS)
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert(HEARTBEATS)


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
    statement = _upsert_insert(engine).values(
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
