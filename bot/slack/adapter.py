"""SlackAdapter: the bolt app served over Socket Mode (default: no public URL) or
over HTTP at /slack/events (several replicas behind a load balancer)."""

from __future__ import annotations

import logging
from dataclasses import KW_ONLY, dataclass, field
from typing import Literal

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.slack.deliver import SlackDeliverer
from bot.slack.gate import GatedSocketModeHandler, RequestGate

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


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
    _socket: AsyncSocketModeHandler | None = field(default=None, init=False, repr=False)
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)
    _site: web.TCPSite | None = field(default=None, init=False, repr=False)

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
            self._socket = (
                AsyncSocketModeHandler(self.app, self.app_token)
                if self.gate is None
                else GatedSocketModeHandler(self.app, self.app_token, self.gate)
            )
            await self._socket.connect_async()
            log.info("slack: connected in Socket Mode")
            return
        web_app = self.app.web_app(path=EVENTS_PATH, port=self.http_port)
        if self.gate is not None:
            web_app.middlewares.append(self.gate.middleware())
        # bolt logs a refused request at INFO with its whole body; the gate refuses
        # them first and counts them instead.
        logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
        web_app.router.add_get(HEALTH_PATH, self._health)
        self._runner = web.AppRunner(web_app)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.http_host, self.http_port)
        await self._site.start()
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
        if self._runner is not None:
            await self._runner.cleanup()  # waits for in-flight requests
            self._runner = self._site = None

    def connected(self) -> bool:
        if self._socket is not None:
            client = self._socket.client
            session = client.current_session
            return not client.closed and session is not None and not session.closed
        return self._site is not None

    @property
    def bound_port(self) -> int:
        """The port HTTP mode listens on (the real one when configured as 0)."""
        if self._runner is not None and self._runner.addresses:
            return int(self._runner.addresses[0][1])
        return self.http_port

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")
