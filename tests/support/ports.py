"""A port nothing answers on, for a test of a server that is not there."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 this process holds bound (to 0) and never listens on, while
    the block runs: a connection to it is refused, and no other process can take it
    (a port bound and let go could be listened on by anyone in between)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])
