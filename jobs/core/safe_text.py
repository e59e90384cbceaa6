"""Untrusted text made harmless to show: in a log line, a chat reply, a CLI line.

Text from outside (a commit's paths and messages, a linter's or model's words, a
chat command) may carry characters that change how the text around them reads
rather than showing themselves: control characters (a newline forges a log line,
an escape sequence recolours a terminal), bidirectional overrides and isolates
(`U+202E` shows `evil.py` as `yp.live`), zero-width and other invisible format
characters (two paths that look alike), and lone surrogates (which no encoder
accepts, so the text cannot even be sent). Each is replaced by its visible escape,
`\\u202e`, so a reader sees that it was there and nothing else changes.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL; bidirectional marks, embeddings, overrides and isolates;
# zero-width and invisible format characters; line and paragraph separators;
# Unicode tag characters; lone surrogates (only a str that was never valid UTF-8).
_INVISIBLE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\U000e0000-\U000e007f"
    "\ud800-\udfff"
)
_IN_CHAT = re.compile(f"[{_INVISIBLE}]")
_IN_A_LINE = re.compile(f"[\t\n{_INVISIBLE}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def neutralised(text: str) -> str:
    """Text for a chat reply: every invisible or direction-changing character as its
    escape; newlines and tabs kept."""
    return _IN_CHAT.sub(_escape, text)


def printable(text: str) -> str:
    """Text for one line (a log line, a name in a message): as `neutralised`, and
    newlines and tabs escaped too."""
    return _IN_A_LINE.sub(_escape, text)


def first_unseen(text: str) -> str | None:
    """The escape of the first character in `text` that would not show as itself
    (newlines and tabs show as themselves), or None."""
    found = _IN_CHAT.search(text)
    return None if found is None else _escape(found)
