"""A local stand-in for Slack's Web API and response URLs, recording what it is sent
(after opsdroid's ExternalAPIMockServer and bolt's own mock server)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.standins.local_http import LocalStandIn

# What the tests' Slack app is configured with, and what this stand-in signs with.
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


def sign(body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 over `v0:{timestamp}:{body}`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


@dataclass
class Call:
    method: str  # a Web API method, "upload" or "response"
    args: dict[str, Any]
    status: int = 200
    body: bytes = b""
    at: float = field(default_factory=time.monotonic)  # when it arrived (benches time it)


@dataclass
class Message:
    """A message Slack accepted into a channel."""

    channel: str
    ts: str
    text: str
    metadata: dict[str, Any] | None
    posted_at: float  # wall-clock seconds, what `oldest` compares with


@dataclass
class SlackApi(LocalStandIn):
    calls: list[Call] = field(default_factory=list)
    base_url: str = ""
    _rate_limited: dict[str, list[int]] = field(default_factory=dict)
    _errors: dict[str, str] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # Socket Mode: the open websockets, and the acks the app sent back over them.
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    # Picks a fault (local_http.FAULTS, or None) for each chat.postMessage; None: none.
    fault_for_post: Any = None

    def rate_limit(self, method: str, retry_after: int = 7, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and Retry-After."""
        self._rate_limited.setdefault(method, []).extend([retry_after] * times)

    def fail(self, method: str, error: str) -> None:
        """Answer every call of `method` with {"ok": false, "error": error}."""
        self._errors[method] = error

    def heal(self, method: str) -> None:
        """Answer `method` normally again (e.g. the bot was invited after all)."""
        self._errors.pop(method, None)

    def ok_calls(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.status == 200]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """The answered calls of `method`, once there are `count` of them."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.ok_calls(method)) < count:
            if asyncio.get_running_loop().time() > deadline:
                seen = [c.method for c in self.calls]
                raise AssertionError(f"waited for {count} {method} call(s); saw {seen}")
            await asyncio.sleep(0.01)
        return self.ok_calls(method)

    def response_url(self, name: str) -> str:
        return f"{self.base_url}response/{name}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_get("/socket", self._socket)
        self.base_url = f"{await self.serve(app)}/"

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            args.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        waits = self._rate_limited.get(method)
        if waits:
            retry_after = waits.pop(0)
            self.calls.append(Call(method, args, status=429))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(retry_after)},
            )
        if method in self._errors:
            self.calls.append(Call(method, args, status=400))
            return web.json_response({"ok": False, "error": self._errors[method]})
        if method == "chat.postMessage" and self.fault_for_post is not None:
            fault = self.fault_for_post()
            if fault is not None:
                return await self._faulty_post(fault, args)
        self.calls.append(Call(method, args))
        return web.json_response(self._answer(method, args))

    async def _faulty_post(self, fault: str, args: dict[str, Any]) -> web.Response:
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
            self.calls.append(Call("chat.postMessage", args))
            return web.json_response(self._answer("chat.postMessage", args))
        self.calls.append(Call("chat.postMessage", args, status=500))
        await self.failed_post(fault, lambda: self._answer("chat.postMessage", args))
        return web.json_response({"ok": False, "error": "internal_error"}, status=500)

    def posts_of(self, channel: str) -> list[Message]:
        return [m for m in self.messages if m.channel == channel]

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "Example",
                "user": "opsdesk",
                "team_id": "T0001",
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "app_id": "A0001",
            }
        if method in ("chat.postMessage", "chat.update"):
            ts = args.get("ts") or f"1700000000.{next(self._ts):06d}"
            if method == "chat.postMessage":
                metadata = args.get("metadata")
                if isinstance(metadata, str):
                    metadata = json.loads(metadata)
                self.messages.append(
                    Message(str(args.get("channel")), ts, str(args.get("text", "")), metadata,
                            time.time())
                )  # fmt: skip
            return {"ok": True, "channel": args.get("channel"), "ts": ts}
        if method == "conversations.history":
            oldest = float(args.get("oldest") or 0)
            found = [m for m in self.messages
                     if m.channel == args.get("channel") and m.posted_at >= oldest]  # fmt: skip
            limit = int(args.get("limit") or 100)
            newest_first = list(reversed(found))[:limit]
            wanted = str(args.get("include_all_metadata")).lower() in ("1", "true")
            return {
                "ok": True,
                "has_more": len(found) > limit,
                "messages": [
                    {"type": "message", "ts": m.ts, "text": m.text,
                     **({"metadata": m.metadata} if wanted and m.metadata else {})}
                    for m in newest_first
                ],
            }  # fmt: skip
        if method == "apps.connections.open":
            return {"ok": True, "url": self.base_url.replace("http", "ws", 1) + "socket"}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):04d}"
            return {
                "ok": True,
                "file_id": file_id,
                "upload_url": f"{self.base_url}upload/{file_id}",
            }
        if method == "files.completeUploadExternal":
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        return {"ok": True}

    async def _upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls.append(Call("upload", {"file_id": request.match_info["file_id"]}, body=body))
        return web.Response(text=f"OK - {len(body)}")

    async def _response(self, request: web.Request) -> web.Response:
        args = await request.json()
        args["_url"] = request.match_info["name"]
        self.calls.append(Call("response", args))
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1})
        self.sockets.append(ws)
        async for message in ws:
            self.socket_acks.append(json.loads(message.data))
        return ws

    async def send_envelope(
        self, envelope_id: str, kind: str, payload: dict[str, Any], retry_attempt: int = 0
    ) -> dict[str, Any]:
        """Send an event over the newest socket; return the app's ack for it."""
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": True,
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        for _ in range(500):
            for ack in self.socket_acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            await asyncio.sleep(0.01)
        raise AssertionError(f"no ack for envelope {envelope_id}")
