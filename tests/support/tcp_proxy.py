"""A TCP proxy on 127.0.0.1, port 0, between opsdesk and its PostgreSQL, that a test
cuts and restores: a whole-server outage (every connection dropped, new ones refused)
without touching the shared server."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url


class TcpProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._guard = threading.Lock()
        self._cut = False
        self._held = False
        self._closed = False
        self.cuts = 0
        self.accepted = threading.Event()  # set at the first connection accepted
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def url_for(self, url: str) -> str:
        """`url` pointing at this proxy instead of its server."""
        parsed = make_url(url).set(host="127.0.0.1", port=self.port)
        return parsed.render_as_string(hide_password=False)

    def cut(self) -> None:
        """The server is gone: every open connection is reset, new ones are refused."""
        with self._guard:
            self._cut = True
            self.cuts += 1
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def restore(self) -> None:
        with self._guard:
            self._cut = self._held = False

    def hold(self) -> None:
        """A server that accepts connections and never answers (a hung database, a
        black-holed network): new connections are held open, silent."""
        with self._guard:
            self._held = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted.set()
            with self._guard:
                refused, held = self._cut, self._held
            if refused:
                _close(client)
                continue
            if held:
                with self._guard:
                    self._open.add(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._guard:
                if self._cut:
                    _close(client)
                    _close(server)
                    continue
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with self._guard:
                self._open.discard(source)
                self._open.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextmanager
def tcp_proxy_for(url: str) -> Iterator[TcpProxy]:
    """A proxy to the host and port of database URL `url`."""
    parsed = make_url(url)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    try:
        yield proxy
    finally:
        proxy.close()
