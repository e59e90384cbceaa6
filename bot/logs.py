"""Logging set-up. Secrets are redacted from everything written, whatever logged
them: the message, its arguments and any traceback (libraries put tokens in URLs,
and URLs end up in exceptions). The redaction is jobs.scrub's, the one scrubber."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from jobs import scrub


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        scrub.register(secrets)

    def redact(self, text: str) -> str:
        return scrub.scrub(text)

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
