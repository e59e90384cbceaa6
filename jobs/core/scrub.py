"""The one secret scrubber: every configured secret is replaced by `[redacted]`
wherever text leaves opsdesk or is stored (logs, run rows, outbox rows, chat
replies, CLI output).

- Any letter case: some libraries lower-case what they quote (Telegram's errors
  lower-case the token in the URL), so matching ignores case.
- URL-encoded forms too (a token with `:` appears as `%3A` in a URL).
- BEFORE any truncation: cut text with `scrub_cut`, never cut then scrub, or a
  secret split by the cut leaks its first part.

Secrets are registered once, when the settings are read (`register`). The set is
process-wide on purpose: one place to forget is one leak.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import quote

REDACTED = "[redacted]"
# Very short values would redact ordinary words; real tokens are long.
MIN_SECRET_CHARS = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(values: Iterable[str | None]) -> None:
    """Add secrets to scrub from now on (None and short values are ignored)."""
    global _pattern
    with _lock:
        for value in values:
            if value and len(value) >= MIN_SECRET_CHARS:
                _secrets.update({value, quote(value, safe="")})
        if _secrets:
            alternatives = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)


def forget_all() -> None:
    """Tests: start from no secrets."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


def scrub(text: str, extra: Iterable[str | None] = ()) -> str:
    """`text` with every registered secret (and those in `extra`) redacted."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for value in extra:
        if value and len(value) >= MIN_SECRET_CHARS:
            text = re.sub(re.escape(value), REDACTED, text, flags=re.IGNORECASE)
    return text


def scrub_cut(text: str, limit: int) -> str:
    """Scrub, then keep at most `limit` characters (never the other way round)."""
    return scrub(text)[:limit]
