"""A credential written into a URL in the configuration is never printed, not even by
the message that says the configuration is wrong (it was built before the secrets
were registered, so every command printed the token)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import opsdesk_with_config

TOKEN = "ghp_TokenInTheUrl0123456789abcdef"
BROKEN = f"""
[[repos]]
name = "api"
path = "/srv/api"
url = "https://deploy:{TOKEN}@git.example.org/api.git"
"""
TOKEN_AS_USER = f"""
[[repos]]
name = "api"
url = "https://{TOKEN}@git.example.org/api.git"
schedule = "every tuesday"
"""


@pytest.mark.parametrize("config", [BROKEN, TOKEN_AS_USER], ids=["password", "user name"])
@pytest.mark.parametrize("command", [("config", "check"), ("jobs",), ("review", "api")])
def test_a_url_credential_is_never_printed(
    tmp_path: Path, config: str, command: tuple[str, ...]
) -> None:
    path = tmp_path / "opsdesk.toml"
    path.write_text(config)
    done = opsdesk_with_config(path, *command)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "repos[0]" in output  # the problem is named
    assert TOKEN[:12].lower() not in output.lower()  # not even the start of it
    assert "[redacted]" in output or "url" in output
