"""`bot.runtime.start_operator`: what `opsdesk run` starts, from real settings and
real schedulers — the token from the environment, the address from the config,
the scheduler's leadership as this process sees it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from bot.runtime import start_operator
from jobs.config.loading import Secrets, Settings
from jobs.config.schema import Config
from jobs.running.scheduler import JobScheduler
from tests.support.context import jobs_context

RAW = {
    "jobs": [{"name": "nightly", "command": "true", "schedule": "0 3 * * *"}],
    "operator": {"listen": "127.0.0.1:0"},
}


def settings_for(config: Config, token: str | None = None) -> Settings:
    return Settings(
        config=config,
        source="test",
        secrets=Secrets(operator_token=SecretStr(token) if token else None),
        database_url="unused: the services carry the engine",
        data_dir=Path(os.environ["OPSDESK_DATA_DIR"]),
    )


def leader_value(text: str) -> float | None:
    for family in text_string_to_metric_families(text):
        if family.name == "opsdesk_scheduler_leader":
            return family.samples[0].value if family.samples else None
    return None


# PostgreSQL only: there the scheduler lock makes one leader (SQLite is one machine).
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_the_leader_and_the_standby_say_which_they_are(engine: Engine) -> None:
    config = Config.model_validate(RAW)
    first = JobScheduler(jobs_context(engine, config), lock_retry=60)
    second = JobScheduler(jobs_context(engine, config), lock_retry=60)
    await first.start()
    await asyncio.wait_for(first.leading.wait(), timeout=10)
    await second.start()
    servers = [
        await start_operator(settings_for(config), jobs_context(engine, config), scheduler)
        for scheduler in (first, second)
    ]
    try:
        values = []
        roles = []
        for server in servers:
            assert server is not None
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bound_port}") as c:
                values.append(leader_value((await c.get("/metrics")).text))
                report = (await c.get("/api/health")).json()
                roles.append(next(x for x in report["components"] if x["name"] == "scheduler role"))
        assert values == [1.0, 0.0]
        assert "runs the scheduler" in roles[0]["detail"]
        assert "standing by" in roles[1]["detail"]
    finally:
        for server in servers:
            if server is not None:
                await server.stop()
        await second.stop()
        await first.stop()


async def test_run_uses_the_token_from_the_environment(sqlite_engine: Engine) -> None:
    config = Config.model_validate(RAW)
    scheduler = JobScheduler(jobs_context(sqlite_engine, config))
    server = await start_operator(
        settings_for(config, token="env-token-0123456789"),
        jobs_context(sqlite_engine, config),
        scheduler,
    )
    assert server is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bound_port}") as c:
            assert (await c.get("/metrics")).status_code == 401
            allowed = {"Authorization": "Bearer env-token-0123456789"}
            answer = await c.get("/metrics", headers=allowed)
        assert answer.status_code == 200
        # Not started: this process does not lead (yet).
        assert leader_value(answer.text) == 0.0
    finally:
        await server.stop()


async def test_a_disabled_operator_starts_nothing(sqlite_engine: Engine) -> None:
    config = Config.model_validate({"operator": {"enabled": False}})
    scheduler = JobScheduler(jobs_context(sqlite_engine, config))
    assert await start_operator(settings_for(config), jobs_context(sqlite_engine, config),
                                scheduler) is None  # fmt: skip
