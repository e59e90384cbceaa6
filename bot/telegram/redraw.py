"""A pressed message drawn again, as Telegram HTML: the pressed finding's paragraph and
its keyboard rows redrawn from the press's answer, and the review's counts line with
them. Pure, like render.py, whose paragraphs it reuses; bot/telegram/edits.py sends it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.telegram.render import (
    MAX_MESSAGE_LENGTH,
    PARAGRAPH_BREAK,
    Placed,
    block_paragraph,
    lines_html,
    utf16_len,
)
from jobs.core.reply import Block, Reply


@dataclass(frozen=True)
class Edit:
    html: str
    keyboard: list[list[tuple[str, str]]]  # (label, callback_data)
    text: str = ""  # the visible text the message will have


COUNTS_PREFIX = "counts:"


def _redraw_counts(counts: Block, message_text: str, plain: list[str], markup: list[str]) -> None:
    """A review's counts line, recomputed by a press: it replaces the paragraph that
    starts like it, in a message of the same review (its commit named in the message)."""
    commit = (counts.key or "").rsplit(":", 1)[-1]
    head = counts.text.split(" ", 1)[0]
    if not commit or commit not in message_text:
        return
    for index, text in enumerate(plain):
        if text.startswith(head + " "):
            lines = block_paragraph(counts).lines
            markup[index] = lines_html(lines)
            plain[index] = "\n".join("".join(t for t, _ in line) for line in lines)
            return


def edit_after_press(
    message_text: str,
    message_html: str,
    keyboard: list[list[tuple[str, str]]],
    pressed: str,
    answer: Reply,
    placed: Placed,
) -> Edit | None:
    """The message a button was on, with the pressed block redrawn from the answer.

    `placed` is what was recorded when the message was sent: the block's paragraph in
    this message and its number; the keyboard rows replaced are the one holding the
    pressed payload and the block's others (their labels say its #n). None when the
    answer has no block of that key, the message no longer has that paragraph, or the
    result would not fit: the caller then sends the answer as a new message."""
    block = next((b for b in answer.blocks if b.key == placed.key), None)
    if block is None:
        return None
    plain_paragraphs = message_text.split(PARAGRAPH_BREAK)
    html_paragraphs = message_html.split(PARAGRAPH_BREAK)
    index = placed.paragraph
    if len(plain_paragraphs) != len(html_paragraphs) or index >= len(html_paragraphs):
        return None
    paragraph = block_paragraph(block, placed.number)
    html_paragraphs[index] = lines_html(paragraph.lines)
    plain_paragraphs[index] = "\n".join("".join(t for t, _ in line) for line in paragraph.lines)
    for counts in (b for b in answer.blocks if b.key and b.key.startswith(COUNTS_PREFIX)):
        _redraw_counts(counts, message_text, plain_paragraphs, html_paragraphs)
    if utf16_len(PARAGRAPH_BREAK.join(plain_paragraphs)) > MAX_MESSAGE_LENGTH:
        return None
    new_rows = [[(b.label, b.payload) for b in row] for row in paragraph.rows]
    mark = f"#{placed.number} "

    def of_the_block(row: list[tuple[str, str]]) -> bool:
        """The pressed row, and every other row of the same numbered block."""
        pressed_here = any(data == pressed for _, data in row)
        return pressed_here or bool(placed.number and all(t.startswith(mark) for t, _ in row))

    rows: list[list[tuple[str, str]]] = []
    for row in keyboard:
        if of_the_block(row):
            rows.extend(new_rows)  # in place of the block's first row; its others go
            new_rows = []
        else:
            rows.append(row)
    return Edit(PARAGRAPH_BREAK.join(html_paragraphs), rows, PARAGRAPH_BREAK.join(plain_paragraphs))
