"""A Reply as plain terminal text, buttons numbered (from 1 unless the console hands
its own numbering), or without buttons where nobody can press them (CLI, logs)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from jobs.core.reply import Block, Button, Reply
from jobs.core.safe_text import neutralised

# Model- and user-supplied text must not drive the terminal (ANSI escapes, bells).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Control characters dropped; direction, invisible and unpaired-surrogate
    characters shown as their escape (a reply from the CLI never passed the router)."""
    return neutralised(_CONTROL.sub("", text))


def block_text(block: Block) -> str:
    """A block as terminal text: a link as its text and its address, a snippet
    indented on lines of its own."""
    if not block.spans or block.monospace:
        return clean(block.text)
    out = ""
    for span in block.spans:
        if span.style == "link":
            out += f"{clean(span.text)} <{clean(span.url)}>"
        elif span.style == "pre":
            code = textwrap.indent(clean(span.text.strip("\n")), "    | ")
            out += ("" if not out or out.endswith("\n") else "\n") + code + "\n"
        else:
            out += clean(span.text)
    return out.rstrip("\n")


def render_text(
    reply: Reply,
    image_path: str | None = None,
    *,
    number_of: Callable[[Button], int] | None = None,
    with_buttons: bool = True,
) -> tuple[str, list[Button]]:
    """The reply's text, and its buttons in display order. `number_of` gives each
    button its number (default: 1, 2, 3… in order); `with_buttons=False` leaves the
    button labels out."""
    lines: list[str] = []
    if reply.title:
        lines.append(f"== {clean(reply.title)} ==")
    buttons: list[Button] = []

    def next_number(_button: Button) -> int:
        return len(buttons)

    numbered = number_of or next_number

    def button_line(row: list[Button]) -> str:
        labels = []
        for button in row:
            buttons.append(button)
            labels.append(f"[{numbered(button)}] {clean(button.label)}")
        return "   " + "  ".join(labels)

    for block in reply.blocks:
        text = block_text(block)
        lines.append(textwrap.indent(text, "    ") if block.monospace else text)
        if block.buttons and with_buttons:
            lines.append(button_line(block.buttons))
    for field in reply.fields:
        lines.append(f"{clean(field.label)}: {clean(field.value)}")
    if reply.image is not None:
        where = f" saved to {image_path}" if image_path else ""
        lines.append(f"[image: {clean(reply.image.title)}{where}]")
    if reply.note:
        lines.append(f"({clean(reply.note)})")
    return "\n".join(lines), buttons
