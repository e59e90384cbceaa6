"""Heartbeat rows on SQLite and PostgreSQL: one atomic upsert per beat."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from storage.heartbeats import beat, read_heartbeat


def test_first_beats_at_once_all_land_on_one_row(engine: Engine) -> None:
    """Two replicas (or a cancelled beat and shutdown) beating a new component at the
    same moment once raised UNIQUE constraint failed: heartbeats.component."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def beat_now(n: int) -> None:
        start.wait()
        try:
            beat(engine, "scheduler", f"host:{n}", "up")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=beat_now, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with engine.connect() as connection:
        row = read_heartbeat(connection, "scheduler")
    assert row is not None and row.status == "up" and row.holder.startswith("host:")


def test_a_new_holder_resets_the_start_time_and_the_same_holder_keeps_it(engine: Engine) -> None:
    beat(engine, "slack", "a:1", "up")
    with engine.connect() as connection:
        first = read_heartbeat(connection, "slack")
    beat(engine, "slack", "a:1", "up", {"mode": "socket"})
    with engine.connect() as connection:
        same = read_heartbeat(connection, "slack")
    beat(engine, "slack", "b:2", "stopped")
    with engine.connect() as connection:
        other = read_heartbeat(connection, "slack")
    assert first is not None and same is not None and other is not None
    assert same.started_at == first.started_at and same.detail == '{"mode": "socket"}'
    assert same.beat_at >= first.beat_at
    assert other.holder == "b:2" and other.status == "stopped"
    assert other.started_at >= same.beat_at
