"""Slack's HTTP mode faces the internet: every request to /slack/events is checked
here before bolt sees it, and refusals cost a counter, not a log line each.

- The signature (`X-Slack-Signature` over the timestamp and body with the signing
  secret; a timestamp more than 5 minutes off is refused), by slack_sdk's verifier.
- The workspace and the app: a signed request whose `team_id` or `api_app_id` is
  not this installation's is refused. They come from `[slack] team_id` / `app_id`,
  else from `auth.test` at start (`learn`); one not known is not checked.

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
from slack_sdk.signature import SignatureVerifier

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
    if not isinstance(data, dict):
        return None, None
    team = data.get("team_id") or (data.get("team") or {}).get("id")
    app = data.get("api_app_id")
    return (str(team) if team else None), (str(app) if app else None)


class RequestGate:
    """An aiohttp middleware for bolt's web app (HTTP mode)."""

    def __init__(
        self,
        signing_secret: str,
        *,
        team_id: str | None = None,
        app_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._verifier = SignatureVerifier(signing_secret)
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
        timestamp = headers.get("X-Slack-Request-Timestamp", "0")
        signature = headers.get("X-Slack-Signature", "")
        if not self._verifier.is_valid(body, timestamp, signature):
            return BAD_SIGNATURE
        team, app = sender_of(body, headers.get("Content-Type", ""))
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
            self._count(reason)
            return web.json_response({"error": "invalid request"}, status=401)

        return check

    def _count(self, reason: str) -> None:
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
