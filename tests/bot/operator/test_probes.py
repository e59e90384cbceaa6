"""/healthz and /readyz against the real server; the database made unreachable for
real by a TCP proxy in front of PostgreSQL that the test cuts and restores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from storage import migrate
from storage.db import make_engine
from tests.bot.operator.conftest import operator_server
from tests.support.ports import refused_port
from tests.support.tcp_proxy import TcpProxy, tcp_proxy_for


@pytest.fixture
def proxied_engine(pg_url: str) -> Iterator[tuple[Engine, TcpProxy]]:
    """An engine on PostgreSQL through a proxy the test cuts (every connection
    dropped, new ones refused, as a database host going away does) and restores."""
    with tcp_proxy_for(pg_url) as proxy:
        engine = make_engine(proxy.url_for(pg_url))
        migrate.upgrade(engine)
        yield engine, proxy
        engine.dispose()


async def test_healthz_answers_while_the_loop_runs(sqlite_engine: Engine) -> None:
    async with operator_server(sqlite_engine) as running:
        answer = await running.client.get("/healthz")
    assert (answer.status_code, answer.text) == (200, "ok\n")


@pytest.mark.postgres
async def test_readyz_turns_503_when_the_database_is_unreachable_and_back(
    proxied_engine: tuple[Engine, TcpProxy],
) -> None:
    engine, proxy = proxied_engine
    async with operator_server(engine) as running:
        ready = await running.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["healthy"] is True

        proxy.cut()
        down = await running.client.get("/readyz")
        assert down.status_code == 503
        report = down.json()
        database = next(c for c in report["components"] if c["name"] == "database")
        assert database["status"] == "down"
        assert database["detail"].startswith("cannot connect to the database")
        assert str(proxy.port) not in down.text  # no address in the public report
        # Liveness does not depend on the database.
        assert (await running.client.get("/healthz")).status_code == 200

        proxy.restore()
        back = await running.client.get("/readyz")
        assert back.status_code == 200, back.text


async def test_readyz_reports_a_late_job_with_503(sqlite_engine: Engine) -> None:
    from jobs.config.schema import Config

    config = Config.model_validate(
        {"jobs": [{"name": "nightly", "command": "true", "schedule": "every 1m"}]}
    )
    async with operator_server(sqlite_engine, config) as running:
        answer = await running.client.get("/readyz")
    assert answer.status_code == 503
    names = {c["name"]: c["status"] for c in answer.json()["components"]}
    assert names["scheduler"] == "down"  # nothing has run the scheduler: no heartbeat


async def test_readyz_names_the_scheduler_role(sqlite_engine: Engine) -> None:
    async with operator_server(sqlite_engine, leadership=lambda: False) as running:
        report = (await running.client.get("/readyz")).json()
    role = next(c for c in report["components"] if c["name"] == "scheduler role")
    assert role["status"] == "up"
    assert "standing by" in role["detail"]


async def test_health_json_carries_no_paths_or_database_url(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    async with operator_server(sqlite_engine) as running:
        text = (await running.client.get("/api/health")).text
    assert str(tmp_path) not in text
    assert "sqlite:" not in text
    assert '"disk"' in text and "MB free" in text


async def test_a_taken_address_is_a_clear_start_error(sqlite_engine: Engine) -> None:
    import socket

    from bot.operator.server import OperatorStartError, start_operator_surface
    from tests.support.context import jobs_context

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OperatorStartError) as raised:
            await start_operator_surface(
                jobs_context(sqlite_engine),
                listen=("127.0.0.1", port),
                token=None,
                leadership=lambda: True,
            )
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message and "[operator].listen" in message


async def test_a_down_model_endpoint_is_reported_without_its_address(
    sqlite_engine: Engine,
) -> None:
    from jobs.config.schema import Config

    with refused_port() as port:
        config = Config.model_validate(
            {
                "reviewer": {
                    "default": "llm",
                    "llm": {"base_url": f"http://user:pw@127.0.0.1:{port}/v1"},
                }
            }
        )
        async with operator_server(sqlite_engine, config) as running:
            answer = await running.client.get("/readyz")
    assert answer.status_code == 503
    model = next(c for c in answer.json()["components"] if c["name"] == "model")
    assert model["status"] == "down"
    assert "unreachable" in model["detail"]
    assert str(port) not in answer.text and "pw" not in answer.text
