"""SlackAdapter: the bolt app served over Socket Mode (default: no public URL) or
over HTTP at /slack/events (several replicas behind a load balancer)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from dataclasses import KW_ONLY, dataclass, field
from typing import Literal

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.slack.connections import MAX_CONNECTIONS, REQUEST_TIMEOUT_S, ConnectionGuard
from bot.slack.deliver import SlackDeliverer
from bot.slack.gate import GatedSocketModeHandler, RequestGate

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Slack's answers that no retry mends: the token is wrong, revoked or not allowed.
TOKEN_REFUSED = {
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
    "missing_scope",
}
CANNOT_LISTEN = {errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL}


@dataclass
class SlackAdapter:
    """Implements bot.adapters.ChatAdapter for Slack."""

    platform: str = field(default="slack", init=False)

    app: AsyncApp
    outbound: SlackDeliverer  # what `deliverer` offers the outbox
    _: KW_ONLY
    mode: Literal["socket", "http"] = "socket"
    app_token: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 3000
    # What checks each request before bolt sees it: the signature (HTTP mode), the
    # workspace and the app (both modes).
    gate: RequestGate | None = None
    # HTTP mode: how long a request's head, then its body, may take to arrive, and the
    # connections open at once (bot/slack/connections.py).
    request_timeout: float = REQUEST_TIMEOUT_S
    max_connections: int = MAX_CONNECTIONS
    _socket: AsyncSocketModeHandler | None = field(default=None, init=False, repr=False)
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode == "socket" and not self.app_token:
            raise ValueError("Socket Mode needs the app-level token (SLACK_APP_TOKEN, xapp-…)")

    @property
    def deliverer(self) -> SlackDeliverer:
        return self.outbound

    async def start(self) -> None:
        if self.gate is not None:
            await self._learn_installation(self.gate)
        if self.mode == "socket":
            assert self.app_token is not None
            socket = (
                AsyncSocketModeHandler(self.app, self.app_token)
                if self.gate is None
                else GatedSocketModeHandler(self.app, self.app_token, self.gate)
            )
            try:
                # Asked here first, so an answer (a rejected token) is told from no
                # answer: the client's own connect retries forever, logging each try.
                socket.client.wss_uri = await socket.client.issue_new_wss_url()
                await socket.connect_async()
            except BaseException:
                with contextlib.suppress(Exception):
                    await socket.close_async()
                raise
            self._socket = socket
            log.info("slack: connected in Socket Mode")
            return
        web_app = self.app.web_app(path=EVENTS_PATH, port=self.http_port)
        gate = self.gate
        runner = web.AppRunner(web_app)
        guard = ConnectionGuard(
            runner,
            on_refusal=gate.count if gate is not None else lambda _reason: None,
            timeout=self.request_timeout,
            max_connections=self.max_connections,
        )
        web_app.middlewares.append(guard.middleware())  # first: bounds every body read
        if gate is not None:
            web_app.middlewares.append(gate.middleware())
        # bolt logs a refused request at INFO with its whole body; the gate refuses
        # them first and counts them instead.
        logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
        web_app.router.add_get(HEALTH_PATH, self._health)
        await runner.setup()
        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(guard, self.http_host, self.http_port)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._server = runner, server
        log.info("slack: serving %s on %s:%s", EVENTS_PATH, self.http_host, self.bound_port)

    async def _learn_installation(self, gate: RequestGate) -> None:
        if gate.team_id and gate.app_id:
            return
        try:
            auth = await self.app.client.auth_test()
        except Exception as exc:  # Slack unreachable: checked by signature alone
            log.warning("slack: auth.test failed (%s); workspace and app not checked", exc)
            return
        gate.learn(dict(auth.data) if isinstance(auth.data, dict) else {})

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()  # waits for in-flight requests
        self._runner = self._server = None

    def refusal(self, exc: BaseException) -> str | None:
        if isinstance(exc, SlackApiError):
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if error in TOKEN_REFUSED:
                token = "SLACK_APP_TOKEN" if self.mode == "socket" else "SLACK_BOT_TOKEN"
                return f"Slack rejected {token} ({error}): check the token"
        if isinstance(exc, OSError) and exc.errno in CANNOT_LISTEN:
            return f"cannot listen on {self.http_host}:{self.http_port}: {exc.strerror}"
        return None

    def connected(self) -> bool:
        if self._socket is not None:
            client = self._socket.client
            session = client.current_session
            return not client.closed and session is not None and not session.closed
        return self._server is not None

    @property
    def bound_port(self) -> int:
        """The port HTTP mode listens on (the real one when configured as 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self.http_port

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")
