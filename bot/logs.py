"""Logging set-up. Secrets are redacted from everything written, whatever logged
them: the message, its arguments and any traceback (libraries put tokens in URLs,
and URLs end up in exceptions)."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        # Very short values would redact ordinary words; real tokens are long.
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def setup_logging(verbose: bool, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for noisy in ("httpx", "alembic", "apscheduler.executors", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
