"""Secrets never reach the log, not even inside a traceback."""

from __future__ import annotations

import io
import logging

from bot.logs import RedactingFormatter

TOKEN = "123456:AAE-secret-telegram-token"


def test_secrets_are_redacted_from_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s", [TOKEN]))
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    try:
        log.warning("calling https://api.telegram.org/bot%s/getMe", TOKEN)
        try:
            raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed")
        except RuntimeError:
            log.exception("delivery failed")
    finally:
        log.removeHandler(handler)
    written = stream.getvalue()
    assert TOKEN not in written
    assert written.count("[redacted]") == 2  # the message and the exception's text
    assert "delivery failed" in written and "RuntimeError" in written
