"""Every request from Slack is checked here before bolt sees it, and refusals cost a
counter, not a log line each.

- HTTP mode (/slack/events faces the internet): the signature (`X-Slack-Signature`
  over the timestamp and body with the signing secret; a timestamp more than 5
  minutes off is refused), by slack_sdk's verifier.
- Both modes: the workspace and the app. A request whose `team_id` or `api_app_id`
  is not this installation's is refused — signed over HTTP, or an envelope on the
  Socket Mode connection (`GatedSocketModeHandler` acknowledges it, so Slack does not
  redeliver it, and drops it). They come from `[slack] team_id` / `app_id`, else from
  `auth.test` at start (`learn`); one not known is not checked.

bolt itself logs every request with a bad signature at INFO with its whole body
(a stranger could fill the log, and forge lines with newlines in a body); here a
refusal is counted, and the counts are logged at most once per `LOG_EVERY_S`,
without any body.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.typedefs import Middleware
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0
BAD_SIGNATURE = "bad signature"
OTHER_TEAM = "another workspace"
OTHER_APP = "another app"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sender_of(body: bytes, content_type: str) -> tuple[str | None, str | None]:
    """(team id, api_app_id) a signed request names: a slash command's form fields,
    an interaction's `payload`, an event's JSON."""
    try:
        text = body.decode("utf-8")
        if "json" in content_type:
            data: Any = json.loads(text)
        else:
            form = {key: values[0] for key, values in parse_qs(text).items()}
            data = json.loads(form["payload"]) if "payload" in form else form
    except (UnicodeDecodeError, ValueError, KeyError):
        return None, None
    return sender_in(data)


def sender_in(data: Any) -> tuple[str | None, str | None]:
    """(team id, api_app_id) a request's fields name: `team_id` (a command, an event)
    or `team.id` (an interaction), and `api_app_id`."""
    if not isinstance(data, dict):
        return None, None
    team_table = data.get("team")
    team = data.get("team_id") or (team_table.get("id") if isinstance(team_table, dict) else None)
    app = data.get("api_app_id")
    return (str(team) if team else None), (str(app) if app else None)


class RequestGate:
    """An aiohttp middleware for bolt's web app (HTTP mode, with the signing secret);
    the check of Socket Mode's envelopes (`GatedSocketModeHandler`, without one)."""

    def __init__(
        self,
        signing_secret: str | None = None,
        *,
        team_id: str | None = None,
        app_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.team_id = team_id
        self.app_id = app_id
        self.clock = clock
        self.refused: Counter[str] = Counter()  # since start, by reason
        self._unlogged: Counter[str] = Counter()
        self._logged_at: float | None = None

    def learn(self, auth: dict[str, Any]) -> None:
        """This installation's ids from `auth.test`, where not configured."""
        self.team_id = self.team_id or auth.get("team_id") or None
        self.app_id = self.app_id or auth.get("app_id") or None

    def refusal(self, body: bytes, headers: Any) -> str | None:
        """Why an HTTP-mode request is refused, or None."""
        timestamp = headers.get("X-Slack-Request-Timestamp", "0")
        signature = headers.get("X-Slack-Signature", "")
        if self._verifier is None or not self._verifier.is_valid(body, timestamp, signature):
            return BAD_SIGNATURE
        return self.sender_refusal(*sender_of(body, headers.get("Content-Type", "")))

    def sender_refusal(self, team: str | None, app: str | None) -> str | None:
        """Why a request from this workspace and app is refused, or None."""
        if self.team_id and team and team != self.team_id:
            return OTHER_TEAM
        if self.app_id and app and app != self.app_id:
            return OTHER_APP
        return None

    def middleware(self) -> Middleware:
        """The aiohttp middleware that applies this gate to every POST."""

        @web.middleware
        async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.method != "POST":
                return await handler(request)
            reason = self.refusal(await request.read(), request.headers)
            if reason is None:
                return await handler(request)
            self.count(reason)
            return web.json_response({"error": "invalid request"}, status=401)

        return check

    def count(self, reason: str) -> None:
        """A refusal: counted, and the counts logged at most once per LOG_EVERY_S."""
        self.refused[reason] += 1
        self._unlogged[reason] += 1
        now = self.clock()
        if self._logged_at is not None and now - self._logged_at < LOG_EVERY_S:
            return
        counts = ", ".join(f"{count} ({why})" for why, count in sorted(self._unlogged.items()))
        log.warning(
            "slack: refused %d request(s) since the last report: %s",
            sum(self._unlogged.values()),
            counts,
        )
        self._unlogged.clear()
        self._logged_at = now


class GatedSocketModeHandler(AsyncSocketModeHandler):
    """bolt's Socket Mode handler with the gate's workspace and app check before bolt:
    an envelope from another team or app is acknowledged (Slack would redeliver it
    otherwise), counted, and never dispatched."""

    def __init__(self, app: AsyncApp, app_token: str, gate: RequestGate) -> None:
        super().__init__(app, app_token)
        self.gate = gate

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        reason = self.gate.sender_refusal(*sender_in(req.payload))
        if reason is None:
            await super().handle(client, req)
            return
        self.gate.count(reason)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
