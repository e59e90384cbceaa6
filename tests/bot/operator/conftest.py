"""The operator's server, started for real on 127.0.0.1 (a free port) against a real
database, and an HTTP client that talks to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy.engine import Engine

from bot.operator.server import OperatorServer, start_operator_surface
from jobs.config.schema import Config
from jobs.context import Context
from tests.support.context import jobs_context


@dataclass
class Running:
    server: OperatorServer
    client: httpx.AsyncClient
    context: Context

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.bound_port}"


@asynccontextmanager
async def operator_server(
    engine: Engine,
    config: Config | None = None,
    *,
    token: str | None = None,
    leadership: Callable[[], bool | None] = lambda: True,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[Running]:
    context = jobs_context(engine, config)
    if clock is not None:
        context.clock = clock
    server = await start_operator_surface(
        context, listen=("127.0.0.1", 0), token=token, leadership=leadership
    )
    base = f"http://127.0.0.1:{server.bound_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield Running(server, client, context)
    finally:
        await server.stop()
