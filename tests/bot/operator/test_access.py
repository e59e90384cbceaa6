"""The bearer token protects everything but /healthz; bad input gets a clear answer."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.bot.operator.conftest import operator_server

TOKEN = "op-token-7f3a9c2e51d84b06"
PROTECTED = ["/readyz", "/metrics", "/api/digest", "/api/health", "/", "/chart.png"]


async def test_the_token_protects_everything_but_healthz(sqlite_engine: Engine) -> None:
    async with operator_server(sqlite_engine, token=TOKEN) as running:
        client = running.client
        assert (await client.get("/healthz")).status_code == 200
        for path in PROTECTED:
            refused = await client.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert TOKEN not in refused.text
            wrong = await client.get(path, headers={"Authorization": "Bearer not-it"})
            assert wrong.status_code == 401, path
            basic = await client.get(path, headers={"Authorization": f"Basic {TOKEN}"})
            assert basic.status_code == 401, path
        allowed = {"Authorization": f"Bearer {TOKEN}"}
        for path in PROTECTED:
            answer = await client.get(path, headers=allowed)
            assert answer.status_code in (200, 404), path  # 404: no charts extra
            assert TOKEN not in answer.text
        assert (await client.get("/metrics", headers=allowed)).status_code == 200


async def test_without_a_token_everything_is_open(sqlite_engine: Engine) -> None:
    async with operator_server(sqlite_engine) as running:
        assert (await running.client.get("/api/digest")).status_code == 200


@pytest.mark.parametrize("path", ["/api/digest?period=year", "/?period=<b>x</b>"])
async def test_an_unknown_period_is_a_clear_400(sqlite_engine: Engine, path: str) -> None:
    async with operator_server(sqlite_engine) as running:
        answer = await running.client.get(path)
    assert answer.status_code == 400
    assert "use day or week" in answer.text
    assert "<b>" not in answer.text or answer.headers["content-type"].startswith("text/plain")


async def test_the_surface_is_read_only(sqlite_engine: Engine) -> None:
    async with operator_server(sqlite_engine) as running:
        for path in ("/api/digest", "/metrics", "/"):
            assert (await running.client.post(path)).status_code == 405
