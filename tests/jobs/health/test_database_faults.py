"""Health during a database fault: one line naming the cause, never a traceback, and
readiness that writes (a database that answers SELECT 1 but takes no write is down)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from jobs.core.reply import Reply
from jobs.health.checks import check_database, check_outbox
from jobs.outbox.delivery import enqueue
from storage import migrate
from storage.db import make_engine
from storage.durable import KEPT, until_written
from storage.models import utcnow
from tests.support.cli import opsdesk_with_config
from tests.support.ports import refused_port
from tests.support.tcp_proxy import tcp_proxy_for
from tests.support.waiting import HANG_GUARD_S


def test_opsdesk_health_on_an_unreachable_database_is_one_line_per_problem(
    tmp_path: Path,
) -> None:
    config = tmp_path / "opsdesk.toml"
    with refused_port() as port:
        config.write_text(
            f'data_dir = "{tmp_path / "data"}"\n'
            f'database_url = "postgresql://opsdesk:hunter2pw@127.0.0.1:{port}/opsdesk"\n'
        )
        done = opsdesk_with_config(config, "health")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert len(done.stderr.strip().splitlines()) <= 1, done.stderr
    [line] = [row for row in done.stdout.splitlines() if "database: " in row]
    assert line.startswith("❌") and "cannot connect to the database" in line
    assert "connection refused" in line
    assert "127.0.0.1" not in line and str(port) not in line
    assert "hunter2pw" not in done.stdout + done.stderr


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"port": "closed"}, "connection refused (is the server running, on that port?)"),
        ({"database": "no_such_database_here"}, "the database does not exist"),
        ({"username": "no_such_role_here"}, "the user does not exist"),
    ],
)
def test_a_database_fault_is_said_in_words_naming_no_host_user_or_database(
    pg_url: str, change: dict[str, str], said: str
) -> None:
    """What health shows in chat: the kind of failure; the driver's text (host, port,
    user, database) goes to the log only."""
    with refused_port() as closed_port:
        closed = change.get("port") == "closed"
        url = make_url(pg_url).set(**({"port": closed_port} if closed else change))
        engine = make_engine(url.render_as_string(hide_password=False))
        try:
            [database] = check_database(engine)
        finally:
            engine.dispose()
    assert database.status == "down"
    assert database.detail.startswith(f"cannot connect to the database: {said} (down since ")
    for private in ("127.0.0.1", str(url.port), "no_such_", "root"):
        assert private not in database.detail


@pytest.mark.postgres
def test_a_database_that_reads_but_cannot_write_is_down(pg_url: str) -> None:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    engine.dispose()
    read_only = make_engine(f"{pg_url}%20-cdefault_transaction_read_only%3Don")
    try:
        [database, schema] = check_database(read_only)
    finally:
        read_only.dispose()
    assert schema.status == "up"
    assert database.status == "down"
    assert database.detail.startswith("cannot write: ")
    assert "read-only transaction" in database.detail


@pytest.mark.postgres
def test_during_an_outage_health_says_what_the_process_holds_for_the_database(
    pg_url: str,
) -> None:
    """Without asking the database: since when it is down, the writes kept in memory
    until it returns (a run's end here), and the posts waiting when last read."""
    setup = make_engine(pg_url)
    migrate.upgrade(setup)
    setup.dispose()
    with tcp_proxy_for(pg_url) as proxy:
        engine = make_engine(proxy.url_for(pg_url))
        try:
            for n in range(3):
                enqueue(
                    engine,
                    kind="job",
                    targets=["telegram:42"],
                    reply=Reply.text(f"post {n}"),
                    dedupe_key=f"waiting:{n}",
                )
            assert check_outbox(engine, utcnow()).data["waiting"] == {"telegram": 3}
            proxy.cut()
            kept, proxy_back, written = threading.Event(), threading.Event(), threading.Event()

            def write_the_end() -> None:
                with engine.begin() as connection:
                    connection.execute(text("SELECT 1"))

            def retry_after_cut(_seconds: float) -> None:  # the write failed and is kept
                kept.set()
                assert proxy_back.wait(HANG_GUARD_S)

            keeper = threading.Thread(
                target=lambda: (
                    until_written(
                        write_the_end, "run 7's end", kind="run end", sleep=retry_after_cut
                    ),
                    written.set(),
                )
            )
            keeper.start()
            assert kept.wait(HANG_GUARD_S)
            [database, *_] = check_database(engine)
            assert database.status == "down"
            assert "kept here until it returns: 1 run end" in database.detail
            assert re.search(r"; 3 posts waiting at \d\d:\d\d UTC$", database.detail)
            proxy.restore()
            proxy_back.set()
            assert written.wait(HANG_GUARD_S)
            keeper.join(HANG_GUARD_S)
            assert KEPT.counts() == {}
            [database, *_] = check_database(engine)
            assert database.status == "up"
        finally:
            proxy.restore()
            engine.dispose()
