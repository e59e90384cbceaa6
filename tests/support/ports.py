"""Ports for servers a test starts in another process, which cannot be told port 0."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port on 127.0.0.1 the system just picked (bound to 0, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
