"""Text from outside cannot forge a log record: control characters are escaped and
further lines of a message indented, in the text form and the JSON form."""

from __future__ import annotations

import json
import logging

from bot.logs import TEXT_FORMAT, JsonFormatter, RedactingFormatter

FORGED = "hello\n2026-01-01 00:00:00,000 ERROR bot.runtime: forged\r\x1b[31mred\u202eevil"


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("bot.test", logging.WARNING, __file__, 1, message, args, None)


def test_a_message_from_outside_stays_one_record_in_text() -> None:
    text = RedactingFormatter(TEXT_FORMAT).format(record("command %r from %s", "x", FORGED))
    lines = text.split("\n")
    assert lines[0].startswith(tuple("0123456789")) and "WARNING bot.test:" in lines[0]
    assert all(line.startswith("    ") for line in lines[1:])  # never a record of its own
    assert "\x1b" not in text and "\u202e" not in text and "\r" not in text
    assert "\\x1b[31m" in text and "\\u202e" in text


def test_and_in_json() -> None:
    entry = json.loads(JsonFormatter([]).format(record("from %s", FORGED)))
    assert "\x1b" not in entry["message"] and "\\u202e" in entry["message"]
