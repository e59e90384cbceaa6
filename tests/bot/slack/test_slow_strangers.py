"""Slack's HTTP mode against slow strangers, on the real `opsdesk run`. Before, a
connection that sent half a request head, or a head and part of a body, was kept for
an hour or for ever, and there was no limit on how many: one client holding ~20,000
of them took every file descriptor the process had."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import httpx

from tests.bot.slack.test_strangers import SERVING, command_body, http_mode
from tests.standins.slack_api import SlackApi, sign
from tests.support.cli import Running, opsdesk_running

TIMEOUT_S = 2.0  # [slack] http_request_timeout, short for the test (default 10 s)
MAX_CONNECTIONS = 32  # [slack] http_max_connections (default 256)
HALF_OPEN = 400
SLOW_BODIES = 8
# What else the process may open meanwhile (the probe, SQLite, the stand-in's client).
MARGIN = 16


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def half_open(port: int) -> socket.socket:
    """A connection that sends half a request head and then nothing."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return connection


def slow_body(port: int) -> socket.socket:
    """A connection that sends a whole head and 10 of the 1,000 bytes it announces."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(
        b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\ncommand=/o"
    )
    return connection


RESET = b"(reset)"


def answer_and_close(connection: socket.socket) -> bytes:
    """All the server sends until it hangs up (waits for that, up to the socket
    timeout). A connection refused before its first read is reset by the kernel, as
    the request it sent is unread."""
    received = b""
    try:
        while chunk := connection.recv(4096):
            received += chunk
    except ConnectionResetError:
        return RESET
    finally:
        connection.close()
    return received


async def test_half_open_connections_and_slow_bodies_are_bounded_and_closed_in_time(
    tmp_path: Path, slack_api: SlackApi
) -> None:
    keys = f"http_request_timeout = {TIMEOUT_S}\nhttp_max_connections = {MAX_CONNECTIONS}\n"
    config, env = http_mode(tmp_path, slack_api, keys)
    ours = command_body()

    def attack() -> tuple[httpx.Response, list[bytes], tuple[int, int, int], float, Running]:
        with opsdesk_running(config, env=env) as running:
            port = running.logged_port(SERVING)  # adapters connect after the start line
            pid = running.process.pid
            before = open_fds(pid)
            opened_at = time.monotonic()
            held = [slow_body(port) for _ in range(SLOW_BODIES)]
            # Answered once the server has read what those sent: they wait for bodies.
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
            held += [half_open(port) for _ in range(HALF_OPEN)]
            held += [slow_body(port) for _ in range(SLOW_BODIES)]
            held.append(socket.create_connection(("127.0.0.1", port), timeout=30))  # silent
            # Accepted after every connection above (one listening queue): once it is
            # answered, the server has seen them all.
            ack = httpx.post(
                f"http://127.0.0.1:{port}/slack/events",
                content=ours.encode(),
                headers=sign(ours),
                timeout=30,
            )
            during = open_fds(pid)
            answers = []
            for connection in held:
                answers.append(answer_and_close(connection))
            all_closed_s = time.monotonic() - opened_at
            after = open_fds(pid)
        return ack, answers, (before, during, after), all_closed_s, running

    # In a thread: the Slack stand-in answers auth.test on this loop.
    ack, answers, (before, during, after), all_closed_s, running = await asyncio.to_thread(attack)
    assert ack.status_code == 200
    assert during - before <= 2 * MAX_CONNECTIONS + MARGIN, (before, during)
    assert after - before <= MARGIN, (before, after)
    # Each one that sent something was told why: 503 when closed to make room (or
    # reset, refused unread), 408 when its time was up. The slow bodies opened first
    # made room for later connections; those opened last were kept till their time.
    assert {answer.split(b"\r\n")[0] for answer in answers[:-1]} <= {
        b"HTTP/1.1 503 Service Unavailable", b"HTTP/1.1 408 Request Timeout", RESET,
    }  # fmt: skip
    first = [answer.split(b"\r\n")[0] for answer in answers[:SLOW_BODIES]]
    assert first == [b"HTTP/1.1 503 Service Unavailable"] * SLOW_BODIES
    last = [answer.split(b"\r\n")[0] for answer in answers[-SLOW_BODIES - 1 : -1]]
    assert last == [b"HTTP/1.1 408 Request Timeout"] * SLOW_BODIES
    assert answers[-1] == b""  # it sent nothing: closed without an answer, as idle
    assert TIMEOUT_S <= all_closed_s < 3 * TIMEOUT_S
    log = "".join(running.log)
    assert "Traceback" not in log and "Error handling request" not in log
    refusals = [line for line in running.log if "bot.slack.gate" in line]
    assert len(refusals) == 1  # the first; the rest are counted till the next report
