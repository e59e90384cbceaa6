"""Slack HTTP mode's connections, bounded in time and in number: /slack/events faces
the internet, and aiohttp's server, which serves bolt's web app, bounds neither. It
keeps a connection that sent half a request head for an hour, waits for a body for
ever, and takes as many connections as the process has file descriptors (one client
holding 20,000 half-open ones left none for git, SQLite or Slack's own requests).

- A request head must arrive within `timeout` of the connection opening (or of the
  previous answer on a kept-alive connection), and its body within `timeout` again;
  otherwise the client is told 408 and the connection closed (closed without a word
  when it sent nothing: an idle connection).
- At `max_connections` open, a new connection closes the oldest one that is not
  being answered (waiting for a head or a body, or idle between requests), sparing
  those in their first `GRACE_S` until twice the limit is open. Slack's request,
  sent at once, is answered however many idle or slow connections are held open
  around it; it is told 503 only when every connection is being answered.
- Such refusals are counted (`on_refusal`: the gate's count, reported at most once a
  minute), never logged one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

# How long a request's head may take to arrive, and its body again after it. Slack
# sends both at once and wants its answer within 3 s.
REQUEST_TIMEOUT_S = 10.0
# Connections open at once (file descriptors are shared with git, SQLite, the chat
# adapters); up to twice as many while all are in their first `GRACE_S`.
MAX_CONNECTIONS = 256
GRACE_S = 1.0
TOO_SLOW = "too slow"
TOO_MANY = "too many connections"

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\n"
    b"Connection: close\r\n\r\n"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(eq=False)
class _Connection(asyncio.Protocol):
    """One client connection: aiohttp's protocol (`inner`) once admitted, with the
    deadline for the head it waits for."""

    guard: ConnectionGuard
    inner: asyncio.Protocol
    transport: asyncio.Transport | None = None
    since: float = 0.0  # when the head (or the body) started to be waited for
    answering: bool = False  # its request is read and in the handler
    heard: bool = False  # it sent part of a request since its last answer
    admitted: bool = False
    deadline: asyncio.TimerHandle | None = field(default=None, repr=False)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.guard.admit(self):
            self.admitted = True
            self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.heard = True
        if self.admitted:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        if self.admitted:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.admitted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.admitted:
            self.inner.resume_writing()

    def wait_for_head(self) -> None:
        """From now, the next request's head has `timeout` to arrive."""
        loop = asyncio.get_running_loop()
        self.answering = self.heard = False
        self.since = loop.time()
        self.stop_clock()
        self.deadline = loop.call_at(self.since + self.guard.timeout, self.time_out)

    def read_body(self) -> None:
        """The head is here: from now, the body is waited for (`middleware` times it)."""
        self.stop_clock()
        self.since = asyncio.get_running_loop().time()

    def stop_clock(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def time_out(self) -> None:
        self.guard.on_refusal(TOO_SLOW)
        self.close_waiting(_TIMED_OUT)

    def close_waiting(self, answer: bytes) -> None:
        """Close a connection waiting for a request: with `answer` once it sent part
        of one, without when it sent nothing since its last answer (an idle one)."""
        self.close(answer if self.heard else b"")

    def close(self, answer: bytes) -> None:
        """Tell the client `answer` (sent before the close) and hang up."""
        self.stop_clock()
        self.guard.forget(self)
        if self.transport is not None and not self.transport.is_closing():
            if answer:
                self.transport.write(answer)
            self.transport.close()


class ConnectionGuard:
    """The protocol of every connection to `runner`'s server (a protocol factory for
    `loop.create_server`), and each request's body read in time in `middleware`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        *,
        on_refusal: Callable[[str], None],
        timeout: float = REQUEST_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
        grace: float = GRACE_S,
    ) -> None:
        self.runner = runner
        self.on_refusal = on_refusal
        self.timeout = timeout
        self.max_connections = max_connections
        self.grace = grace
        self._open: dict[asyncio.BaseTransport, _Connection] = {}

    def __call__(self) -> asyncio.Protocol:
        server = self.runner.server
        assert server is not None, "the runner is set up before serving"
        return _Connection(self, server())

    def admit(self, connection: _Connection) -> bool:
        """Make room for `connection`; False (and it is told 503) when none can be."""
        if len(self._open) >= self.max_connections:
            full = len(self._open) >= 2 * self.max_connections
            spared = float("-inf") if full else self.grace
            if not self._close_oldest_waiting(spared) and full:
                self.on_refusal(TOO_MANY)
                connection.close(_BUSY)
                return False
        assert connection.transport is not None
        self._open[connection.transport] = connection
        connection.wait_for_head()
        return True

    def _close_oldest_waiting(self, spared: float) -> bool:
        """Close the oldest connection not being answered that is older than `spared`
        seconds; False when there is none."""
        cutoff = asyncio.get_running_loop().time() - spared
        waiting = [c for c in self._open.values() if not c.answering and c.since <= cutoff]
        if not waiting:
            return False
        self.on_refusal(TOO_MANY)
        min(waiting, key=lambda connection: connection.since).close_waiting(_BUSY)
        return True

    def forget(self, connection: _Connection) -> None:
        connection.stop_clock()
        if connection.transport is not None:
            self._open.pop(connection.transport, None)

    def middleware(self) -> Middleware:
        """Reads each request's body within the deadline, before any other middleware."""

        @web.middleware
        async def bounded(request: web.Request, handler: Handler) -> web.StreamResponse:
            connection = self._open.get(request.transport) if request.transport else None
            if connection is None:  # closed meanwhile
                return web.Response(status=408)
            connection.read_body()
            try:
                async with asyncio.timeout(self.timeout):
                    await request.read()
            except TimeoutError:
                connection.time_out()
                return web.Response(status=408)
            except ConnectionError:  # closed to make room, or the client left
                return web.Response(status=408)
            connection.answering = True
            try:
                return await handler(request)
            finally:
                if connection.transport is not None and not connection.transport.is_closing():
                    connection.wait_for_head()

        return bounded
