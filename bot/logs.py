"""Logging set-up. Secrets are redacted from everything written, whatever logged
them: the message, its arguments and any traceback (libraries put tokens in URLs,
and URLs end up in exceptions). The redaction is jobs.core.scrub's, the one scrubber.
Control characters in a message are escaped and its further lines indented, so
text from outside (a chat command, a request) cannot forge a log record."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from jobs.core import scrub
from jobs.core.safe_text import neutralised


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        scrub.register(secrets)

    def redact(self, text: str) -> str:
        return scrub.scrub(text)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The message with control, direction and invisible characters escaped, and
        each further line of it indented: text from outside cannot forge a record."""
        record.message = one_record(record.message)
        return super().formatMessage(record)


def one_record(message: str) -> str:
    return neutralised(message.replace("\r\n", "\n")).replace("\n", "\n    ")


class JsonFormatter(RedactingFormatter):
    """One JSON object a line (time, level, logger, message, exception) for log
    collectors; redacted like the text form, values and traceback alike."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("%(message)s", secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(neutralised(record.getMessage())),
        }
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(verbose: bool, secrets: Iterable[str] = (), log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter(secrets) if log_format == "json" else RedactingFormatter(TEXT_FORMAT, secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for noisy in (
        "httpx",
        "alembic",
        "apscheduler.executors",
        "apscheduler.scheduler",
        "aiohttp.access",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
