"""The operator's HTTP/1.1 server: requests parsed by h11 on asyncio's own streams,
for a read-only surface: GET and HEAD, one request per connection
(`Connection: close`), each request's head bounded in size and read within a
deadline.

Why h11 and not a server framework: h11 (python-hyper's HTTP/1.1 state machine,
the parser uvicorn uses too) is already installed with httpx and costs little in
`opsdesk run`; aiohttp's web server would be most of the idle process's memory budget
for a handful of GET endpoints (docs/performance.md). What neither gives is
what keeps this port answerable when it faces the internet, and that is here:

- a whole request head must arrive within `HEAD_TIMEOUT_S`, however slowly it trickles;
- a client keeps at most `MAX_IDLE_PER_CLIENT` connections waiting for their head
  longer than `GRACE_S`: one more closes its oldest such connection;
- at `MAX_CONNECTIONS` open, a new connection closes the oldest one waiting for its
  head longer than `GRACE_S`; when there is none it is let in anyway, up to twice
  the limit, and past that told 503. A connection is never closed in its first
  second, so a probe that sends its request at once is answered however many idle
  or slow connections are held open around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import h11

log = logging.getLogger(__name__)

# The request line and headers together; a larger head is answered 431.
MAX_HEAD_BYTES = 16 * 1024
# How long a client gets to send its whole request line and headers.
HEAD_TIMEOUT_S = 10.0
# How long writing an answer may take before the connection is dropped.
WRITE_TIMEOUT_S = 30.0
# Connections open at once (file descriptors are shared with git, SQLite, the chat
# adapters), and of those, ones still waiting for their head per client address.
MAX_CONNECTIONS = 64
MAX_IDLE_PER_CLIENT = 8
# A connection younger than this is never closed to make room: a client sends its
# head at once, so one still waiting after this long is idle or slow.
GRACE_S = 1.0
# A body sent with a refused request is read and dropped up to this size, so the
# client sees the answer rather than a reset connection.
MAX_DISCARDED_BODY = 64 * 1024
SAFE_METHODS = ("GET", "HEAD")
_READ_CHUNK = 8192


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(status, text.encode(), f"{content_type}; charset=utf-8")

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls.text(json.dumps(data), status, "application/json")


Handler = Callable[[Request], Awaitable[Response]]

# The answer when every connection is being answered: sent without reading the request.
_BUSY = Response(503, b"busy: too many open connections\n", headers={"Retry-After": "1"})


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def as_request(event: h11.Request) -> Request:
    """h11's parsed request as the handlers see it; a target that is not a path is 400."""
    target = event.target.decode("latin-1")
    method = event.method.decode("latin-1")
    if not target.startswith("/"):
        raise BadRequest(400, "malformed request line")
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers}
    split = urlsplit(target)
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    return Request(method.upper(), unquote(split.path), query, headers)


def encode(response: Response, *, with_body: bool) -> bytes:
    reason = HTTPStatus(response.status).phrase
    headers = {
        "Content-Type": response.content_type,
        "Content-Length": str(len(response.body)),
        "Date": formatdate(usegmt=True),
        "Connection": "close",
        **response.headers,
    }
    head = f"HTTP/1.1 {response.status} {reason}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n").encode("latin-1") + (response.body if with_body else b"")


@dataclass
class _Connection:
    client: str
    opened: float
    waiting_for_head: bool = True


class HttpServer:
    """Serves `routes` (path → handler); `around` wraps every routed call (access
    control, error pages, common headers). Unknown paths are 404, other methods
    than GET and HEAD on a known path 405."""

    def __init__(
        self,
        routes: Mapping[str, Handler],
        around: Callable[[Request, Handler], Awaitable[Response]],
        *,
        head_timeout: float = HEAD_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        max_idle_per_client: int = MAX_IDLE_PER_CLIENT,
        grace: float = GRACE_S,
    ) -> None:
        self.routes = dict(routes)
        self.around = around
        self.head_timeout = head_timeout
        self.max_connections = max_connections
        self.max_idle_per_client = max_idle_per_client
        self.grace = grace
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self.closed_idle = 0  # connections closed to make room: how often it was needed

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port. OSError when the address is taken."""
        self._server = await asyncio.start_server(self._connection, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    # --- who may stay ---------------------------------------------------------------
    def _close_oldest_waiting(self, client: str | None) -> bool:
        """Close the oldest connection that has waited for its head longer than
        GRACE_S (of `client` when given); False when there is none. A new connection
        (a probe whose head is on its way) is never the one closed."""
        cutoff = asyncio.get_running_loop().time() - self.grace
        waiting = [
            (state.opened, task)
            for task, state in self._connections.items()
            if state.waiting_for_head
            and state.opened <= cutoff
            and (client is None or state.client == client)
        ]
        if not waiting:
            return False
        _opened, task = min(waiting, key=lambda item: item[0])
        del self._connections[task]
        task.cancel()
        self.closed_idle += 1
        return True

    def _admit(self, task: asyncio.Task[None], client: str) -> bool:
        """Make room for a new connection; False when there is none to be made."""
        cutoff = asyncio.get_running_loop().time() - self.grace
        idle_of_client = sum(
            1
            for s in self._connections.values()
            if s.client == client and s.waiting_for_head and s.opened <= cutoff
        )
        if idle_of_client >= self.max_idle_per_client:
            self._close_oldest_waiting(client)
        full = len(self._connections) >= self.max_connections
        # When every waiting one is in its first second, let this one in too, up to
        # twice the limit, rather than refuse a probe because of a burst of connections.
        if full and not self._close_oldest_waiting(None):
            return len(self._connections) < 2 * self.max_connections and self._add(task, client)
        return self._add(task, client)

    def _add(self, task: asyncio.Task[None], client: str) -> bool:
        self._connections[task] = _Connection(client, asyncio.get_running_loop().time())
        return True

    # --- one connection -------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        try:
            response: Response | None = _BUSY
            method = "GET"
            if self._admit(task, client):
                response, method = await self._answer(reader, task)
            if response is not None:
                writer.write(encode(response, with_body=method != "HEAD"))
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)
        except (ConnectionError, TimeoutError):
            pass
        except asyncio.CancelledError:
            # Closed to make room, or the server stops: end the connection with a FIN
            # after what the client sent (a close with unread data would reset it).
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.write_eof()
            with contextlib.suppress(ConnectionError, TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(reader.read(MAX_DISCARDED_BODY), 0.2)
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _read_head(self, reader: asyncio.StreamReader) -> tuple[h11.Request | None, int]:
        """The request's head, parsed by h11 (None: the client left without one), and
        how many bytes after it were read already. Raises BadRequest, TimeoutError."""
        parser = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        received = 0
        async with asyncio.timeout(self.head_timeout):  # for the whole head, not each read
            while True:
                try:
                    event = parser.next_event()
                except h11.RemoteProtocolError as exc:
                    status = 431 if received > MAX_HEAD_BYTES else exc.error_status_hint
                    raise BadRequest(status, str(exc)) from exc
                read_ahead = len(parser.trailing_data[0])
                if received - read_ahead > MAX_HEAD_BYTES:
                    raise BadRequest(431, "request head too large")
                if isinstance(event, h11.Request):
                    return event, read_ahead
                if event is not h11.NEED_DATA:
                    return None, 0  # the connection closed
                data = await reader.read(_READ_CHUNK)
                received += len(data)
                parser.receive_data(data)

    async def _answer(
        self, reader: asyncio.StreamReader, task: asyncio.Task[None]
    ) -> tuple[Response | None, str]:
        """The answer to the one request on this connection (None: the client left)."""
        try:
            event, read_ahead = await self._read_head(reader)
            if event is None:
                return None, "GET"
            request = as_request(event)
        except TimeoutError:
            return Response.text("request timeout\n", 408), "GET"
        except BadRequest as exc:
            if exc.status == 431:
                return Response.text("request header fields too large\n", 431), "GET"
            return Response.text("malformed request\n", 400), "GET"
        state = self._connections.get(task)
        if state is not None:
            state.waiting_for_head = False
        handler = self.routes.get(request.path)
        if handler is None:
            return Response.text("not found\n", 404), request.method
        if request.method not in SAFE_METHODS:
            await self._discard_body(reader, request, read_ahead)
            refused = Response.text("method not allowed: this surface is read-only\n", 405)
            refused.headers["Allow"] = ", ".join(SAFE_METHODS)
            return refused, request.method
        return await self.around(request, handler), request.method

    async def _discard_body(
        self, reader: asyncio.StreamReader, request: Request, read_ahead: int
    ) -> None:
        length = request.header("content-length") or "0"
        left = int(length) - read_ahead if length.isdigit() else 0
        if left > 0 and int(length) <= MAX_DISCARDED_BODY:
            with contextlib.suppress(asyncio.IncompleteReadError, TimeoutError):
                await asyncio.wait_for(reader.readexactly(left), self.head_timeout)
