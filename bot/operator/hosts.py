"""Which `Host` the operator's server answers: DNS rebinding stays out.

A web page can make a visitor's browser resolve its own name to 127.0.0.1 and then
read whatever answers there, opsdesk's page and API included; the browser still
sends that page's name as `Host`. So the server answers only the names it is known
by — its listen address, `localhost`, `[operator] public_url`'s host and
`[operator] allowed_hosts` (a container's service name, say) — and any IP address,
which no rebinding can use. `allowed_hosts = ["*"]` turns the check off.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether a listen address is reachable from this machine only."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """`Host`'s name without its port; an IPv6 address without its brackets."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


class HostCheck:
    def __init__(self, listen_host: str, public_url: str | None, allowed: Iterable[str]) -> None:
        names = {*LOOPBACK_NAMES, listen_host.lower(), *(a.lower() for a in allowed)}
        if public_url:
            names.add((urlsplit(public_url).hostname or "").lower())
        self.any = "*" in names
        self.names = frozenset(name for name in names if name)

    def allows(self, header: str | None) -> bool:
        if self.any or header is None:  # HTTP/1.0 sends none; browsers always do
            return True
        name = host_name(header)
        return name in self.names or is_ip(name)
