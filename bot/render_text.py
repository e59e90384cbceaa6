"""A Reply as plain terminal text, buttons numbered from 1."""

from __future__ import annotations

import re
import textwrap

from jobs.reply import Button, Reply

# Model- and user-supplied text must not drive the terminal (ANSI escapes, bells).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    return _CONTROL.sub("", text)


def render_text(reply: Reply, image_path: str | None = None) -> tuple[str, list[Button]]:
    """The reply's text, and its buttons in the order they are numbered."""
    lines: list[str] = []
    if reply.title:
        lines.append(f"== {clean(reply.title)} ==")
    number = 0
    buttons: list[Button] = []

    def button_line(row: list[Button]) -> str:
        nonlocal number
        labels = []
        for button in row:
            number += 1
            buttons.append(button)
            labels.append(f"[{number}] {clean(button.label)}")
        return "   " + "  ".join(labels)

    for block in reply.blocks:
        text = clean(block.text)
        lines.append(textwrap.indent(text, "    ") if block.monospace else text)
        if block.buttons:
            lines.append(button_line(block.buttons))
    for field in reply.fields:
        lines.append(f"{clean(field.label)}: {clean(field.value)}")
    if reply.buttons:
        lines.append(button_line(reply.buttons))
    if reply.image is not None:
        where = f" saved to {image_path}" if image_path else ""
        lines.append(f"[image: {clean(reply.image.title)}{where}]")
    if reply.note:
        lines.append(f"({clean(reply.note)})")
    return "\n".join(lines), buttons
