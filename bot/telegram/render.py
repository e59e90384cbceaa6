"""A Reply as Telegram HTML: everything escaped, split at 4,096 characters on line
boundaries, the buttons as an inline keyboard on the last chunk. Pure: no I/O and no
telegram import, so it is tested on its own."""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass, field
from typing import Literal

from jobs.reply import Block, Button, Image, Reply

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_ANSWER_LENGTH = 200  # answerCallbackQuery text
MAX_BUTTONS_PER_ROW = 8

Style = Literal["plain", "b", "i", "pre"]
# One line of a message: pieces of plain text, each with its style. Paragraphs are
# separated by an empty line, which is what lets a button press find its block again.
Line = list[tuple[str, Style]]


@dataclass(frozen=True)
class Chunk:
    """One sendMessage: HTML text and the keyboard rows (empty but on the last)."""

    html: str
    keyboard: list[list[Button]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji may be two)."""
    return len(text.encode("utf-16-le")) // 2


def _block_lines(block: Block) -> list[Line]:
    # Blank lines inside a block would read as a paragraph break; collapse them.
    style: Style = "pre" if block.monospace else "plain"
    return [[(line, style)] for line in block.text.splitlines() if line.strip()] or [[("-", style)]]


def reply_paragraphs(reply: Reply) -> list[list[Line]]:
    """The reply as paragraphs of lines: title, blocks, fields, note."""
    paragraphs: list[list[Line]] = []
    if reply.title:
        paragraphs.append([[(reply.title, "b")]])
    paragraphs.extend(_block_lines(block) for block in reply.blocks)
    if reply.fields:
        paragraphs.append([[(f"{f.label}: ", "b"), (f.value, "plain")] for f in reply.fields])
    if reply.note:
        paragraphs.append([[(reply.note, "i")]])
    return paragraphs or [[[("(empty reply)", "i")]]]


def keyboard_rows(reply: Reply) -> list[list[Button]]:
    """One row per block that has buttons, then the reply's own buttons."""
    groups = [block.buttons for block in reply.blocks if block.buttons]
    if reply.buttons:
        groups.append(reply.buttons)
    return [
        group[start : start + MAX_BUTTONS_PER_ROW]
        for group in groups
        for start in range(0, len(group), MAX_BUTTONS_PER_ROW)
    ]


def _line_len(line: Line) -> int:
    return sum(utf16_len(text) for text, _ in line)


def _hard_split(line: Line, limit: int) -> list[Line]:
    """Cut a line longer than `limit` into lines that fit, keeping each piece's style."""
    out: list[Line] = []
    current: Line = []
    used = 0
    for text, style in line:
        part: list[str] = []
        for char in text:
            size = utf16_len(char)
            if used + size > limit:
                if part:
                    current.append(("".join(part), style))
                    part = []
                out.append(current)
                current, used = [], 0
            part.append(char)
            used += size
        if part:
            current.append(("".join(part), style))
    if current:
        out.append(current)
    return out


def lines_html(lines: list[Line]) -> str:
    """HTML for consecutive lines; runs of monospace lines share one <pre>."""
    out: list[str] = []
    in_pre = False
    for line in lines:
        pre = bool(line) and all(style == "pre" for _, style in line)
        if pre and not in_pre:
            out.append("<pre>")
        elif not pre and in_pre:
            out.append("</pre>")
        in_pre = pre
        text = "".join(_piece_html(text, style) for text, style in line)
        out.append(text + "\n")
    html_text = "".join(out).rstrip("\n")
    # The newline before a closing </pre> belongs outside it.
    html_text = re.sub(r"\n</pre>", "</pre>\n", html_text)
    return html_text + ("</pre>" if in_pre else "")


def _piece_html(text: str, style: Style) -> str:
    escaped = html.escape(text, quote=False)
    if style in ("b", "i"):
        return f"<{style}>{escaped}</{style}>"
    return escaped


def paragraphs_lines(paragraphs: list[list[Line]]) -> list[Line]:
    lines: list[Line] = []
    for index, paragraph in enumerate(paragraphs):
        if index:
            lines.append([])
        lines.extend(paragraph)
    return lines


def split_lines(lines: list[Line], limit: int = MAX_MESSAGE_LENGTH) -> list[list[Line]]:
    """Pack lines into chunks of at most `limit` characters, breaking between lines."""
    chunks: list[list[Line]] = []
    current: list[Line] = []
    used = 0
    for long_line in lines:
        for line in _hard_split(long_line, limit) if _line_len(long_line) > limit else [long_line]:
            size = _line_len(line) + (1 if current else 0)
            if current and used + size > limit:
                chunks.append(current)
                current, used = [], 0
                size = _line_len(line)
            if not current and not line:
                continue  # no chunk starts with a blank line
            current.append(line)
            used += size
    if current:
        chunks.append(current)
    return [_strip_blank(chunk) for chunk in chunks] or [[[("(empty reply)", "i")]]]


def _strip_blank(chunk: list[Line]) -> list[Line]:
    while chunk and not chunk[-1]:
        chunk = chunk[:-1]
    return chunk


def render(reply: Reply, limit: int = MAX_MESSAGE_LENGTH) -> list[Chunk]:
    """The reply as messages; the keyboard rides on the last one."""
    chunks = split_lines(paragraphs_lines(reply_paragraphs(reply)), limit)
    rendered = [Chunk(lines_html(chunk)) for chunk in chunks]
    rendered[-1] = Chunk(rendered[-1].html, keyboard_rows(reply))
    return rendered


def caption(image: Image) -> str:
    """A photo's caption: the image title, escaped and cut to fit."""
    title = image.title
    if utf16_len(title) > MAX_CAPTION_LENGTH:
        title = _hard_split([(title, "plain")], MAX_CAPTION_LENGTH - 1)[0][0][0] + "…"
    return html.escape(title, quote=False)


def short(text: str, limit: int = MAX_ANSWER_LENGTH) -> str:
    """Plain text cut to `limit` characters (callback answers, alerts)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def answer_text(reply: Reply) -> str:
    """What a button press's toast or alert says."""
    if reply.status == "ok":
        return short(reply.note or reply.title or "Done")
    body = reply.blocks[0].text if reply.blocks else reply.title
    return short(body or reply.title or "Not done")


# -- A button press edits the message it was on ------------------------------------------


@dataclass(frozen=True)
class Edit:
    html: str
    keyboard: list[list[tuple[str, str]]]  # (label, callback_data)


def edit_after_press(
    message_text: str,
    message_html: str,
    keyboard: list[list[tuple[str, str]]],
    pressed: str,
    answer: Reply,
) -> Edit | None:
    """The message a button was on, with the pressed block replaced by the answer's blocks.

    The block is found by its text (the paragraph most like the answer's first block)
    and its keyboard row by the pressed payload. None when the answer has no blocks,
    when the block is not in this message or when the result would not fit: the caller
    then sends the answer as a new message instead."""
    if not answer.blocks:
        return None
    plain_paragraphs = message_text.split("\n\n")
    html_paragraphs = message_html.split("\n\n")
    if len(plain_paragraphs) != len(html_paragraphs):
        return None
    index = _most_like(plain_paragraphs, answer.blocks[0].text)
    if index is None:
        return None
    new_html = "\n\n".join(
        lines_html(paragraph) for paragraph in (_block_lines(b) for b in answer.blocks)
    )
    html_paragraphs[index] = new_html
    edited = "\n\n".join(html_paragraphs)
    answer_text = "\n".join(b.text for b in answer.blocks)
    visible = "\n\n".join([*plain_paragraphs[:index], answer_text, *plain_paragraphs[index + 1 :]])
    if utf16_len(visible) > MAX_MESSAGE_LENGTH:
        return None
    new_rows = [[(b.label, b.payload) for b in row] for row in keyboard_rows(answer)]
    rows: list[list[tuple[str, str]]] = []
    for row in keyboard:
        if any(data == pressed for _, data in row):
            rows.extend(new_rows)
            new_rows = []
        else:
            rows.append(row)
    return Edit(edited, rows)


def _most_like(paragraphs: list[str], text: str) -> int | None:
    """The paragraph whose first line is most like `text`'s first line (≥ 60 %)."""
    wanted = text.strip().splitlines()[0] if text.strip() else ""
    best, best_ratio = None, 0.6
    for index, paragraph in enumerate(paragraphs):
        first = paragraph.strip().splitlines()[0] if paragraph.strip() else ""
        ratio = difflib.SequenceMatcher(None, first, wanted).ratio()
        if ratio >= best_ratio:
            best, best_ratio = index, ratio
    return best
