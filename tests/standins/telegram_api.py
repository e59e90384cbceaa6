"""A stand-in for the Telegram Bot API on 127.0.0.1: serves what opsdesk calls, keeps
the messages it was sent (HTML turned into text + entities, as Telegram does) and
records every call. Tests push updates; the real Application polls them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from tests.standins.local_http import LocalStandIn

TOKEN = "123456:TEST-token-for-the-fake-bot-api"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "opsdesk", "username": "opsdesk_bot"}
_ENTITY = {"b": "bold", "i": "italic", "pre": "pre", "code": "code", "a": "text_link"}


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Html(HTMLParser):
    """Telegram's HTML parse mode, for the tags opsdesk sends."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.open: list[tuple[str, int, str | None]] = []
        self.entities: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ENTITY:
            raise ValueError(f'Can\'t parse entities: unsupported start tag "{tag}"')
        href = dict(attrs).get("href") if tag == "a" else None
        if tag == "a" and not href:
            raise ValueError("Can't parse entities: a link without href")
        self.open.append((tag, utf16(self.text), href))

    def handle_endtag(self, tag: str) -> None:
        name, start, href = self.open.pop()
        assert name == tag, f"unbalanced </{tag}>"
        length = utf16(self.text) - start
        if length:
            entity = {"type": _ENTITY[tag], "offset": start, "length": length}
            self.entities.append(entity | ({"url": href} if href else {}))

    def handle_data(self, data: str) -> None:
        self.text += data


def parse_html(markup: str) -> tuple[str, list[dict[str, Any]]]:
    parser = _Html()
    parser.feed(markup)
    parser.close()
    assert not parser.open, "unclosed tags"
    return parser.text, sorted(parser.entities, key=lambda e: e["offset"])


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200


@dataclass
class TelegramApi(LocalStandIn):
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    # method → retry_after seconds: the next call of it is answered 429 once.
    flood_once: dict[str, int] = field(default_factory=dict)
    # method → retry_after seconds: every call of it is answered 429 while it is here
    # (a rate-limit storm).
    flooding: dict[str, int] = field(default_factory=dict)
    # Chats the bot is not in: sending there is answered 400 "chat not found".
    unknown_chats: set[int] = field(default_factory=set)
    base_url: str = ""
    # Picks a fault (local_http.FAULTS, or None) for each sendMessage; None: none.
    fault_for_send: Any = None
    _next_update: int = 1000
    _next_message: int = 1
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self.base_url = await self.serve(app)

    # -- what tests use ---------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update, **update}
        self._next_update += 1
        self.updates.append(update)
        self._arrived.set()
        return update

    def called(self, method: str, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    async def wait_for(self, condition: Callable[[], object], timeout: float = 30.0) -> None:
        await self.until(
            condition, timeout, lambda: f"timed out; calls so far: {[c.method for c in self.calls]}"
        )

    def record(self, call: Call) -> None:
        self.calls.append(call)
        self.touch()

    # -- the API ------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.Response:
        prefix = f"/bot{self.token}/"
        if not request.path.startswith(prefix):
            return self._error(404, "Not Found")
        method = request.path.removeprefix(prefix)
        params = await self._params(request)
        retry_after = self.flood_once.pop(method, None) or self.flooding.get(method)
        if retry_after is not None:
            self.record(Call(method, params, 429))
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after},
                },
                status=429,
            )
        if method.startswith("send") and int(params.get("chat_id") or 0) in self.unknown_chats:
            self.record(Call(method, params, 400))
            return self._error(400, "Bad Request: chat not found")
        fault = self.fault_for_send() if method == "sendMessage" and self.fault_for_send else None
        if fault is not None and fault != "slow":
            return await self._faulty_send(fault, params)
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
        self.record(Call(method, params))
        if method == "getUpdates":
            return await self._get_updates(params)
        answer = getattr(self, f"_{method}", None)
        result = answer(params) if answer else True
        return web.json_response({"ok": True, "result": result})

    async def _faulty_send(self, fault: str, params: dict[str, Any]) -> web.Response:
        self.record(Call("sendMessage", params, 500))
        await self.failed_post(fault, lambda: self._sendMessage(params))
        return self._error(500, "Internal Server Error")

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            params: dict[str, Any] = {}
            for name, value in form.items():
                params[name] = value.file.read() if hasattr(value, "file") else value
            return params
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        return {name: str(value) for name, value in form.items()}

    @staticmethod
    def _error(status: int, description: str) -> web.Response:
        body = {"ok": False, "error_code": status, "description": description}
        return web.json_response(body, status=status)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset", 0) or 0)
        wait = min(float(params.get("timeout", 0) or 0), 0.5)
        deadline = time.monotonic() + wait
        while True:
            pending = [u for u in self.updates if u["update_id"] >= offset]
            if pending or time.monotonic() >= deadline:
                return web.json_response({"ok": True, "result": pending})
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())

    def _getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    def _store(self, chat_id: int, message: dict[str, Any]) -> dict[str, Any]:
        message_id = self._next_message
        self._next_message += 1
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
            **message,
        }
        self.messages[(chat_id, message_id)] = message
        return message

    @staticmethod
    def _markup(params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("reply_markup")
        return {"reply_markup": json.loads(raw)} if raw else {}

    def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text, entities = parse_html(params["text"])
        if not 1 <= utf16(text) <= 4096:
            raise AssertionError(f"message of {utf16(text)} characters")
        body = {"text": text, "entities": entities, **self._markup(params)}
        return self._store(int(params["chat_id"]), body)

    def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        caption, entities = parse_html(params.get("caption", ""))
        photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 800, "height": 400}]
        body = {"photo": photo, "caption": caption, "caption_entities": entities}
        return self._store(int(params["chat_id"]), body)

    def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        text, entities = parse_html(params["text"])
        message = self.messages[key]
        message.update(text=text, entities=entities)
        message.pop("reply_markup", None)
        message.update(self._markup(params))
        return message

    def _getWebhookInfo(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


def user(user_id: int = 42, username: str = "alice") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": username.title(), "username": username}


def command_update(text: str, chat_id: int = 42, user_id: int = 42) -> dict[str, Any]:
    """A message with a /command, as Telegram sends it (bot_command entity first)."""
    command = text.split()[0]
    return {
        "message": {
            "message_id": 500 + abs(chat_id) % 100,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": user(user_id),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": utf16(command)}],
        }
    }


def callback_update(
    message: dict[str, Any], data: str, query_id: str, user_id: int = 42
) -> dict[str, Any]:
    return {
        "callback_query": {
            "id": query_id,
            "from": user(user_id),
            "chat_instance": "ci-1",
            "data": data,
            "message": message,
        }
    }
