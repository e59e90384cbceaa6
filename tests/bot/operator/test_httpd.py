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
async def serving(
    head_timeout: float = 10.0,
    max_connections: int = 64,
    max_idle_per_client: int = 8,
    grace: float = 0.0,
) -> AsyncIterator[int]:
    server = HttpServer(
        {"/echo": echo},
        passthrough,
        head_timeout=head_timeout,
        max_connections=max_connections,
        max_idle_per_client=max_idle_per_client,
        grace=grace,
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
        _, got, got_body = await exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = await exchange(port, b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and body == b""
    assert headers["content-length"] == got["content-length"] == str(len(got_body))


async def test_unknown_paths_are_404_and_write_methods_405() -> None:
    async with serving() as port:
        missing, _, _ = await exchange(port, b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        posted, headers, body = await exchange(
            port, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
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
        not_a_path, _, _ = await exchange(port, b"GET echo HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (no_version, bad_header, not_a_path) == (400, 400, 400)


async def test_a_head_that_never_ends_is_cut_off_with_408() -> None:
    async with serving(head_timeout=0.5) as port:
        started = asyncio.get_running_loop().time()
        status, _, _ = await exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        waited = asyncio.get_running_loop().time() - started
    assert status == 408
    assert waited < 5


async def test_stop_ends_open_connections() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        await writer.drain()
    # The server stopped with the connection open: the client sees it closed.
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""
    writer.close()


async def stalled(port: int, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """Connections that send half a head and then nothing."""
    opened = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /echo HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        await writer.drain()
        opened.append((reader, writer))
        await asyncio.sleep(0.05)  # each is admitted in turn: their order is known
    return opened


async def test_at_the_limit_a_new_request_closes_the_oldest_one_still_waiting() -> None:
    async with serving(max_connections=2) as port:
        waiting = await stalled(port, 2)
        served, _, _ = await exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        oldest = await asyncio.wait_for(waiting[0][0].read(), 5)
        waiting[1][1].write(b"\r\n")  # the younger one still finishes its request
        await waiting[1][1].drain()
        younger = await asyncio.wait_for(waiting[1][0].read(), 5)
        for _, writer in waiting:
            writer.close()
    assert served == 200 and oldest == b"" and younger.startswith(b"HTTP/1.1 200")


async def test_a_client_keeps_only_a_few_connections_waiting_for_their_heads() -> None:
    async with serving(max_connections=64, max_idle_per_client=3) as port:
        waiting = await stalled(port, 4)
        closed = await asyncio.wait_for(waiting[0][0].read(), 5)
        for _, writer in waiting:
            writer.close()
    assert closed == b""


async def test_a_connection_in_its_grace_period_is_not_closed_to_make_room() -> None:
    async with serving(max_connections=2, grace=30.0) as port:
        waiting = await stalled(port, 2)  # young: one more is let in, up to twice the limit
        served, _, _ = await exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        waiting += await stalled(port, 2)
        busy, _, _ = await exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        still_open = [not reader.at_eof() for reader, _ in waiting]
        for _, writer in waiting:
            writer.close()
    assert served == 200 and busy == 503 and all(still_open)


async def test_busy_only_when_every_connection_is_being_answered() -> None:
    release = asyncio.Event()

    async def slow(_request: Request) -> Response:
        await release.wait()
        return Response.text("done\n")

    server = HttpServer({"/slow": slow, "/echo": echo}, passthrough, max_connections=2)
    port = await server.start("127.0.0.1", 0)
    try:
        answering = [  # twice the limit: what a burst may take
            asyncio.create_task(exchange(port, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"))
            for _ in range(4)
        ]
        await asyncio.sleep(0.3)  # both heads read: both are being answered
        busy, headers, body = await exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        release.set()
        done = [status for status, _, _ in await asyncio.gather(*answering)]
    finally:
        await server.stop()
    assert (busy, headers["retry-after"], body) == (503, "1", b"busy: too many open connections\n")
    assert done == [200] * 4
