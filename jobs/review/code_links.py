"""Where a line of a repository lives on its code host: the web address of a path and
line at a commit, for GitHub, GitLab, Gitea/Forgejo and Bitbucket.

The address comes from a repository's `web_url`, else from its git remote (https,
`ssh://` and scp-like `git@host:owner/name.git`); a remote's user name and password
never reach the address. A host whose kind cannot be told from its name gives no
link unless the configuration names its kind: a wrong link is worse than none.
Pure: text in, text out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit

CodeHost = Literal["github", "gitlab", "gitea", "bitbucket"]
HOST_NAMES: dict[CodeHost, str] = {
    "github": "GitHub",
    "gitlab": "GitLab",
    "gitea": "Gitea",
    "bitbucket": "Bitbucket",
}
# A hostname's words that tell its kind (github.com, gitlab.example.org, codeberg.org…).
_HOST_WORDS: tuple[tuple[str, CodeHost], ...] = (
    ("github", "github"),
    ("gitlab", "gitlab"),
    ("bitbucket", "bitbucket"),
    ("gitea", "gitea"),
    ("forgejo", "gitea"),
    ("codeberg", "gitea"),
)
MAX_URL = 500
# git@host:owner/name(.git): the scp-like form git and ssh accept.
_SCP_LIKE = re.compile(r"^(?:[^@/:\s]+@)?(?P<host>[A-Za-z0-9.-]+):(?!//)(?P<path>[^\s]+)$")


@dataclass(frozen=True)
class WebRepo:
    """A repository's home page on its code host, e.g. https://github.com/pallets/click."""

    base: str
    host: CodeHost

    @property
    def host_name(self) -> str:
        return HOST_NAMES[self.host]

    def line_url(self, commit: str, path: str, line: int, end_line: int | None = None) -> str:
        """The file at `commit`, at `line` (to `end_line`), in the host's own shape."""
        file = f"{quote(path, safe='/')}"
        end = end_line if end_line is not None and end_line > line else None
        if self.host == "github":
            anchor = f"#L{line}" + (f"-L{end}" if end else "")
            return f"{self.base}/blob/{commit}/{file}{anchor}"
        if self.host == "gitlab":
            anchor = f"#L{line}" + (f"-{end}" if end else "")
            return f"{self.base}/-/blob/{commit}/{file}{anchor}"
        if self.host == "gitea":
            anchor = f"#L{line}" + (f"-L{end}" if end else "")
            return f"{self.base}/src/commit/{commit}/{file}{anchor}"
        anchor = f"#lines-{line}" + (f":{end}" if end else "")
        return f"{self.base}/src/{commit}/{file}{anchor}"

    def file_url(self, commit: str, path: str) -> str:
        """The file at `commit`, without a line (a notebook's lines count per cell)."""
        return self.line_url(commit, path, 1).rsplit("#", 1)[0]


def host_of(hostname: str) -> CodeHost | None:
    name = hostname.lower()
    for word, host in _HOST_WORDS:
        if word in name:
            return host
    return None


def web_base(address: str) -> tuple[str, str] | None:
    """(https base address, hostname) of a remote or web address; credentials, port of
    an ssh remote, `.git`, query and fragment dropped. None for a local path, a
    `file:` URL or anything else that is no web address."""
    address = address.strip()
    match = _SCP_LIKE.match(address)
    if match and "://" not in address:
        host, path = match["host"], match["path"]
        scheme, port = "https", None
    else:
        try:
            parts = urlsplit(address)
            port = parts.port
        except ValueError:
            return None
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh", "ssh+git"):
            return None
        host, path = parts.hostname or "", parts.path
        scheme = "http" if parts.scheme == "http" else "https"
        if parts.scheme != scheme:
            port = None  # an ssh or git port says nothing of the web server's
    path = path.strip("/").removesuffix(".git").strip("/")
    if not host or not re.fullmatch(r"[A-Za-z0-9.-]+", host) or not path or ".." in path:
        return None
    netloc = host.lower() + (f":{port}" if port else "")
    base = f"{scheme}://{netloc}/{quote(path, safe='/~')}"
    return (base, host) if len(base) <= MAX_URL else None


def web_repo(
    remote: str | None, web_url: str | None = None, host: CodeHost | None = None
) -> WebRepo | None:
    """A repository's web home: its `web_url` if configured, else its remote's; the
    host's kind as configured, else as its name tells; None when neither is known."""
    for address in (web_url, remote):
        if not address:
            continue
        found = web_base(address)
        if found is None:
            continue
        base, hostname = found
        kind = host or host_of(hostname)
        return WebRepo(base, kind) if kind is not None else None
    return None
