"""The operator's small HTTP/1.1 server (bot/operator/httpd.py) on 127.0.0.1, spoken
to over raw sockets: what a client gets for a good request, HEAD, an unknown path,
a write method, an oversized or malformed head, and one that never finishes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.operator.httpd import MAX_HEAD_BYTES, Handler, HttpServer, Request, Response


async def echo(request: Request) -> Response:
    return Response.json({"path": request.path, "query": request.query})


async def passthrough(request: Request, handler: Handler) -> Response:
    return await handler(request)


@asynccontextmanager
async def serving(head_timeout: float = 10.0, max_connections: int = 64) -> AsyncIterator[int]:
    server = HttpServer(
        {"/echo": echo}, passthrough, head_timeout=head_timeout, max_connections=max_connections
    )
    port = await server.start("127.0.0.1", 0)
    try:
        yield port
    finally:
        await server.stop()


async def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `raw`, read until the server closes; the status, headers and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=20)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in headers.items()}, body


async def test_a_get_is_answered_and_the_connection_closed() -> None:
    async with serving() as port:
        status, headers, body = await exchange(
            port, b"GET /echo?period=week&x=%3Cb%3E HTTP/1.1\r\nHost: x\r\n\r\n"
        )
    assert status == 200
    assert body == b'{"path": "/echo", "query": {"period": "week", "x": "<b>"}}'
    assert headers["content-length"] == str(len(body))
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["connection"] == "close"


async def test_head_has_the_get_headers_and_no_body() -> None:
    async with serving() as port:
        _, got, got_body = await exchange(port, b"GET /echo HTTP/1.1\r\n\r\n")
        status, headers, body = await exchange(port, b"HEAD /echo HTTP/1.1\r\n\r\n")
    assert status == 200 and body == b""
    assert headers["content-length"] == got["content-length"] == str(len(got_body))


async def test_unknown_paths_are_404_and_write_methods_405() -> None:
    async with serving() as port:
        missing, _, _ = await exchange(port, b"GET /nothing HTTP/1.1\r\n\r\n")
        posted, headers, body = await exchange(
            port, b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        )
    assert missing == 404
    assert posted == 405
    assert headers["allow"] == "GET, HEAD"
    assert b"read-only" in body


async def test_an_oversized_head_is_refused_with_431() -> None:
    filler = b"X-Filler: " + b"a" * (MAX_HEAD_BYTES + 1) + b"\r\n"
    async with serving() as port:
        status, _, _ = await exchange(port, b"GET /echo HTTP/1.1\r\n" + filler + b"\r\n")
    assert status == 431


async def test_a_malformed_request_is_400() -> None:
    async with serving() as port:
        no_version, _, _ = await exchange(port, b"GET /echo\r\n\r\n")
        bad_header, _, _ = await exchange(port, b"GET /echo HTTP/1.1\r\nno colon here\r\n\r\n")
        not_a_path, _, _ = await exchange(port, b"GET echo HTTP/1.1\r\n\r\n")
    assert (no_version, bad_header, not_a_path) == (400, 400, 400)


async def test_a_head_that_never_ends_is_cut_off_with_408() -> None:
    async with serving(head_timeout=0.5) as port:
        status, _, body = await exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n")
    assert (status, body) == (408, b"request timeout\n")  # cut off, with the reason


async def test_stop_ends_open_connections() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /echo HTTP/1.1\r\n")  # and never the blank line
        await writer.drain()
    # The server stopped with the connection open: the client sees it closed.
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""
    writer.close()


async def test_past_the_connection_limit_a_client_is_told_busy_and_the_rest_are_served() -> None:
    async with serving(max_connections=2) as port:
        stalled = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        for _, writer in stalled:
            writer.write(b"GET /echo HTTP/1.1\r\n")  # and never the blank line
            await writer.drain()
        # No wait needed: connections are accepted in the order they arrive and each
        # is counted as its handler starts, so the two stalled ones are counted first.
        busy, headers, body = await exchange(port, b"GET /echo HTTP/1.1\r\n\r\n")
        stalled_reader, stalled_writer = stalled[0]
        stalled_writer.write(b"\r\n")  # the first one finishes its request
        await stalled_writer.drain()
        # Read to its end: the server closes a connection after it stopped counting it.
        assert (await asyncio.wait_for(stalled_reader.read(), 5)).startswith(b"HTTP/1.1 200")
        stalled_writer.close()
        served, _, _ = await exchange(port, b"GET /echo HTTP/1.1\r\n\r\n")
        stalled[1][1].close()
    assert (busy, headers["retry-after"], body) == (503, "1", b"busy: too many open connections\n")
    assert served == 200
