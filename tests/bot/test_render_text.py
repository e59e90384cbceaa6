"""The terminal renderer (the console and every CLI command): text from outside shows
its direction and invisible characters as escapes and drops control characters."""

from __future__ import annotations

from bot.render_text import render_text
from jobs.core.reply import Reply


def test_the_cli_renderer_shows_direction_and_invisible_characters_as_escapes() -> None:
    text = render_text(Reply.text("src/\u202eyp.live\u200b.py \x1b[31m\udd2c", title="a\u2066b"))[0]
    assert "\\u202e" in text and "\\u200b" in text and "\\u2066" in text and "\\udd2c" in text
    assert "\x1b" not in text and "\u202e" not in text
    text.encode("utf-8")  # printable on any terminal
