"""A chat platform's incoming webhook on 127.0.0.1: POST /post with a JSON body. It can
refuse the first posts (a 5xx, or a 429 with Retry-After) and answer slowly, and it
records every request and every post it accepted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.standins.local_http import serve_locally


@dataclass
class ChatWebhook:
    """Answers the first `failures` requests with `fail_status`, then accepts each post
    and answers `delay` seconds later (the client may give up first) with its id."""

    failures: int = 0
    fail_status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    requests: list[dict[str, object]] = field(default_factory=list)
    delivered: list[dict[str, object]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if len(self.requests) <= self.failures:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.json_response({"ok": False}, status=self.fail_status, headers=headers)
        self.delivered.append(body)  # accepted before the answer
        await asyncio.sleep(self.delay)
        return web.json_response({"ok": True, "ts": f"m{len(self.delivered)}"})


@asynccontextmanager
async def served(webhook: ChatWebhook) -> AsyncIterator[str]:
    """The webhook's URL while it is served."""
    app = web.Application()
    app.router.add_post("/post", webhook.handle)
    runner, base_url = await serve_locally(app)
    try:
        yield f"{base_url}/post"
    finally:
        await runner.cleanup()
