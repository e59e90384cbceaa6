"""A small HTTP/1.1 server on asyncio's own streams, for the operator's read-only
surface: GET and HEAD, one request per connection (`Connection: close`), the request
line and headers bounded in size and read within a deadline, a bounded number of
connections at once.

Why not aiohttp: its server stack costs about 10 MB of resident memory in every
`opsdesk run`, for a handful of GET endpoints on a private address. What this
server does not do (keep-alive, request bodies, chunked transfer, TLS) those
endpoints do not need; a reverse proxy in front adds TLS where wanted.
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

log = logging.getLogger(__name__)

# The request line and headers together; a larger head is answered 431.
MAX_HEAD_BYTES = 16 * 1024
# How long a client gets to send its request line and headers.
HEAD_TIMEOUT_S = 10.0
# How long writing an answer may take before the connection is dropped.
WRITE_TIMEOUT_S = 30.0
# Connections served at once; one more is answered 503 at once and closed, so a
# client that opens many and sends nothing cannot use up the process's file
# descriptors (which git, SQLite and the chat adapters need too).
MAX_CONNECTIONS = 64
# A body sent with a refused request is read and dropped up to this size, so the
# client sees the answer rather than a reset connection.
MAX_DISCARDED_BODY = 64 * 1024
SAFE_METHODS = ("GET", "HEAD")


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

# The answer when MAX_CONNECTIONS are open: sent without reading the request.
_BUSY = Response(503, b"busy: too many open connections\n", headers={"Retry-After": "1"})


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def parse_head(head: bytes) -> Request:
    """The request line and headers (up to the blank line) as a Request."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise BadRequest(400, "undecodable request") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    method, target, _version = parts
    if not method.isalpha() or not target.startswith("/"):
        raise BadRequest(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, "malformed header")
        headers[name.lower()] = value.strip()
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
    ) -> None:
        self.routes = dict(routes)
        self.around = around
        self.head_timeout = head_timeout
        self.max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port. OSError when the address is taken."""
        self._server = await asyncio.start_server(
            self._connection, host, port, limit=MAX_HEAD_BYTES
        )
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

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        busy = len(self._connections) >= self.max_connections
        self._connections.add(task)
        try:
            response, method = (_BUSY, "GET") if busy else await self._answer(reader)
            if response is not None:
                data = encode(response, with_body=method != "HEAD")
                writer.write(data)
                await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)
        except (ConnectionError, TimeoutError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[Response | None, str]:
        """The answer to the one request on this connection (None: the client left)."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.head_timeout)
            request = parse_head(head[:-4])
        except asyncio.IncompleteReadError:
            return None, "GET"
        except asyncio.LimitOverrunError:
            return Response.text("request header fields too large\n", 431), "GET"
        except TimeoutError:
            return Response.text("request timeout\n", 408), "GET"
        except BadRequest as exc:
            return Response.text(f"{exc}\n", exc.status), "GET"
        handler = self.routes.get(request.path)
        if handler is None:
            return Response.text("not found\n", 404), request.method
        if request.method not in SAFE_METHODS:
            await self._discard_body(reader, request)
            refused = Response.text("method not allowed: this surface is read-only\n", 405)
            refused.headers["Allow"] = ", ".join(SAFE_METHODS)
            return refused, request.method
        return await self.around(request, handler), request.method

    async def _discard_body(self, reader: asyncio.StreamReader, request: Request) -> None:
        length = request.header("content-length") or "0"
        if length.isdigit() and 0 < int(length) <= MAX_DISCARDED_BODY:
            with contextlib.suppress(asyncio.IncompleteReadError, TimeoutError):
                await asyncio.wait_for(reader.readexactly(int(length)), self.head_timeout)
