"""A Reply as Telegram HTML: everything escaped, split at 4,096 characters between
paragraphs (a finding is never cut in two), each message carrying the keyboard rows of
the blocks it shows. Rows of a numbered block name it: "#3 Helpful" under "#3 🔴 a.py:1".
Pure: no I/O and no telegram import, so it is tested on its own."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Literal

from jobs.core.reply import Block, Button, Image, Reply, Span

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_ANSWER_LENGTH = 200  # answerCallbackQuery text
MAX_BUTTONS_PER_ROW = 8
# Telegram refuses an inline keyboard of more than 100 buttons or about 10 kB of JSON
# ("reply markup is too long"); a message holds at most this many.
MAX_BUTTONS_PER_MESSAGE = 64
PARAGRAPH_BREAK = "\n\n"

# "a:<url>" is a link to the url; "code" inline code.
Style = Literal["plain", "b", "i", "pre", "code"] | str
# One line of a message: pieces of plain text, each with its style. Paragraphs are
# separated by an empty line; a keyed block is one paragraph, which is what lets a
# button press find it again by its stored index.
Line = list[tuple[str, Style]]


@dataclass(frozen=True)
class Placed:
    """A keyed block in a sent message: its paragraph index and its row name (#n)."""

    key: str
    paragraph: int
    number: int


@dataclass(frozen=True)
class Chunk:
    """One sendMessage: HTML text, the keyboard rows of the blocks in it, and where
    each keyed block sits (recorded with the message id Telegram returns)."""

    html: str
    keyboard: list[list[Button]] = field(default_factory=list)
    placed: list[Placed] = field(default_factory=list)


@dataclass(frozen=True)
class _Paragraph:
    lines: list[Line]
    rows: list[list[Button]] = field(default_factory=list)
    key: str | None = None
    number: int = 0


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji may be two)."""
    return len(text.encode("utf-16-le")) // 2


SPAN_STYLES: dict[str, Style] = {"plain": "plain", "bold": "b", "code": "code", "pre": "pre"}


def _span_style(span: Span) -> Style:
    return f"a:{span.url}" if span.style == "link" else SPAN_STYLES[span.style]


def _span_lines(spans: list[Span]) -> list[Line]:
    """Spans as lines of styled pieces; a snippet (pre) always on lines of its own."""
    lines: list[Line] = [[]]
    for span in spans:
        style = _span_style(span)
        text = span.text.strip("\n") if style == "pre" else span.text
        if style == "pre" and lines[-1]:
            lines.append([])
        for index, part in enumerate(text.split("\n")):
            if index:
                lines.append([])
            if part:
                lines[-1].append((part, style))
        if style == "pre":
            lines.append([])
    return [line for line in lines if any(text.strip() for text, _ in line)]


def _block_lines(block: Block) -> list[Line]:
    # Blank lines inside a block would read as a paragraph break; collapse them.
    if block.spans and not block.monospace:
        return _span_lines(block.spans) or [[("-", "plain")]]
    style: Style = "pre" if block.monospace else "plain"
    return [[(line, style)] for line in block.text.splitlines() if line.strip()] or [[("-", style)]]


# Numbered buttons ("#12 False positive") two to a row, so a phone shows their labels.
NUMBERED_PER_ROW = 2


def _rows(buttons: list[Button], per_row: int = MAX_BUTTONS_PER_ROW) -> list[list[Button]]:
    return [buttons[start : start + per_row] for start in range(0, len(buttons), per_row)]


def block_paragraph(block: Block, number: int = 0, *, folded: bool = False) -> _Paragraph:
    """A block as one paragraph; numbered, its first line and its buttons say #n.
    `folded`: its opener alone stands for its buttons (one key a finding, not four)."""
    lines = _block_lines(block)
    buttons = [block.opener] if folded and block.opener is not None else block.buttons
    if number:
        lines[0] = [(f"#{number} ", "b"), *lines[0]]
        buttons = [b.model_copy(update={"label": f"#{number} {b.label}"}) for b in buttons]
        return _Paragraph(lines, _rows(buttons, NUMBERED_PER_ROW), block.key, number)
    return _Paragraph(lines, _rows(buttons), block.key, number)


def reply_paragraphs(reply: Reply) -> list[_Paragraph]:
    """The reply as paragraphs: title, blocks, fields, note. When more than one block
    has buttons, those blocks are numbered so every keyboard row names its block, and a
    block with an opener shows that one button (its press draws the others in its place)."""
    numbered = sum(1 for block in reply.blocks if block.buttons) > 1
    paragraphs: list[_Paragraph] = []
    if reply.title:
        paragraphs.append(_Paragraph([[(reply.title, "b")]]))
    number = 0
    for block in reply.blocks:
        if block.buttons and numbered:
            number += 1
            paragraphs.append(block_paragraph(block, number, folded=True))
        else:
            paragraphs.append(block_paragraph(block))
    if reply.fields:
        lines: list[Line] = [[(f"{f.label}: ", "b"), (f.value, "plain")] for f in reply.fields]
        paragraphs.append(_Paragraph(lines))
    if reply.note:
        paragraphs.append(_Paragraph([[(reply.note, "i")]]))
    return paragraphs or [_Paragraph([[("(empty reply)", "i")]])]


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
    if style in ("b", "i", "code"):
        return f"<{style}>{escaped}</{style}>"
    if style.startswith("a:"):
        return f'<a href="{html.escape(style[2:], quote=True)}">{escaped}</a>'
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


def _paragraph_len(paragraph: _Paragraph) -> int:
    lines = paragraph.lines
    return sum(_line_len(line) for line in lines) + max(0, len(lines) - 1)


def render(
    reply: Reply, limit: int = MAX_MESSAGE_LENGTH, max_buttons: int = MAX_BUTTONS_PER_MESSAGE
) -> list[Chunk]:
    """The reply as messages, split only between paragraphs; each message carries the
    rows of its own blocks. Only a single
    paragraph longer than a message (a long command output) is split between lines."""
    built: list[list[_Paragraph]] = []
    current: list[_Paragraph] = []
    used = buttons = 0
    for paragraph in reply_paragraphs(reply):
        size = _paragraph_len(paragraph)
        count = sum(len(row) for row in paragraph.rows)
        gap = len(PARAGRAPH_BREAK) if current else 0
        if (
            size <= limit
            and current
            and (used + gap + size > limit or buttons + count > max_buttons)
        ):
            built.append(current)
            current, used, buttons, gap = [], 0, 0, 0
        if size > limit:
            # Too long for any message: lines split it, the paragraphs before it share
            # its first message (their rows too), its rows go on its last piece.
            lines = paragraphs_lines([p.lines for p in current] + [paragraph.lines])
            pieces = split_lines(lines, limit)
            earlier_rows = [row for p in current for row in p.rows]
            built += [[_Paragraph(pieces[0], earlier_rows)]]
            built += [[_Paragraph(piece)] for piece in pieces[1:-1]]
            last = _Paragraph(pieces[-1], paragraph.rows)
            current, used, buttons = [last], _paragraph_len(last), count
            continue
        current.append(paragraph)
        used += gap + size
        buttons += count
    if current:
        built.append(current)
    return [
        Chunk(
            PARAGRAPH_BREAK.join(lines_html(p.lines) for p in paragraphs),
            [row for p in paragraphs for row in p.rows],
            [Placed(p.key, index, p.number) for index, p in enumerate(paragraphs) if p.key],
        )
        for paragraphs in built
    ]


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
