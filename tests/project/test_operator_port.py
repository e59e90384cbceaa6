"""The operator port of a real `opsdesk run` as the internet would treat it.

Before, 64 idle half-sent requests from one client made every other request,
`/healthz` included, answer 503 for as long as they were renewed; any `Host` was
answered (DNS rebinding on the default loopback bind); listening beyond loopback
without a token went unremarked; and local-path reviews put absolute paths into
`/metrics`, `/api/digest` and the page.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.support.cli import opsdesk_measured, opsdesk_running
from tests.support.git_repo import Repo

HALF_OPEN = 64


def config_file(tmp_path: Path, listen: str = "127.0.0.1:0", extra: str = "") -> Path:
    path = tmp_path / "opsdesk.toml"
    path.write_text(
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        f'[scheduler]\nenabled = false\n[operator]\nlisten = "{listen}"\n{extra}'
    )
    return path


def half_open(port: int) -> socket.socket:
    """A connection that sends half a request head and then nothing."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return connection


def test_healthz_answers_while_64_half_open_connections_are_kept_renewed(tmp_path: Path) -> None:
    with opsdesk_running(config_file(tmp_path)) as running:
        assert running.page is not None
        port = urlsplit(running.page).port
        assert port is not None
        stop = threading.Event()
        opened: list[socket.socket] = []

        def attack() -> None:  # keeps 64 idle connections open, renewing closed ones
            deadline = time.monotonic() + 60  # bounded, whatever happens to the test
            while not stop.is_set() and time.monotonic() < deadline:
                while len(opened) < HALF_OPEN:
                    opened.append(half_open(port))
                for connection in list(opened):
                    connection.setblocking(False)
                    try:
                        if connection.recv(1) == b"":  # closed by the server: renew it
                            opened.remove(connection)
                            connection.close()
                    except BlockingIOError:
                        pass
                stop.wait(0.05)

        attacker = threading.Thread(target=attack, daemon=True)
        attacker.start()
        try:
            while len(opened) < HALF_OPEN:
                time.sleep(0.05)
            statuses = []
            for _ in range(20):
                statuses.append(httpx.get(f"{running.page}healthz", timeout=10).status_code)
                time.sleep(0.1)
        finally:
            stop.set()
            attacker.join(timeout=10)
            for connection in opened:
                connection.close()
    assert statuses == [200] * 20


def test_a_foreign_host_is_refused_and_known_ones_are_answered(tmp_path: Path) -> None:
    with opsdesk_running(config_file(tmp_path, extra='allowed_hosts = ["opsdesk"]\n')) as running:
        page = running.page
        assert page is not None
        port = urlsplit(page).port

        def status(path: str, host: str) -> int:
            return httpx.get(f"{page}{path}", headers={"Host": host}, timeout=30).status_code

        rebinding = status("api/health", f"attacker.example:{port}")
        known = [status("api/health", host) for host in (f"localhost:{port}", "opsdesk:8787")]
        by_address = status("api/health", f"127.0.0.1:{port}")
        probe = status("healthz", "attacker.example")
    assert rebinding == 421
    assert known == [200, 200] and by_address == 200 and probe == 200


def test_listening_beyond_loopback_without_a_token_is_warned_about(tmp_path: Path) -> None:
    with opsdesk_running(config_file(tmp_path, listen="0.0.0.0:0")) as running:
        pass
    warning = [line for line in running.log if "without OPSDESK_OPERATOR_TOKEN" in line]
    assert len(warning) == 1 and "WARNING" in warning[0]
    with opsdesk_running(config_file(tmp_path)) as quiet:
        pass
    assert not [line for line in quiet.log if "OPSDESK_OPERATOR_TOKEN" in line]


def test_local_path_reviews_show_no_path_on_the_operator_surface(
    git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("code", **{"app.py": "import os\n"})
    config = config_file(tmp_path)
    reviewed = opsdesk_measured(config, "review", str(git_repo.path))
    assert reviewed.returncode == 0, reviewed.stderr
    with opsdesk_running(config) as running:
        page = running.page
        assert page is not None
        answers = {
            path: httpx.get(f"{page}{path}", timeout=60).text
            for path in ("metrics", "api/digest?period=day", "")
        }
    assert 'job="review:local:' in answers["metrics"]
    assert "review:local:" in answers["api/digest?period=day"]
    for path, text in answers.items():
        assert str(git_repo.path) not in text, path
        assert str(tmp_path) not in text, path
