"""What a phone shows: Block Kit JSON and Telegram HTML as small web pages in each
app's manner, and those pages as PNG images through headless Chromium.

The pages are drawn from exactly what opsdesk sends (the blocks of chat.postMessage,
the HTML and keyboard of sendMessage), so an image changes when a message does. They
imitate the apps' look (a phone's width, their fonts' sizes, code and link styles);
they are not the apps.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

PHONE_WIDTH = 390  # CSS pixels, a common phone
PAGE_HEIGHT = 2600  # drawn this tall, then cut at the end of the content

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; width: {width}px; font: 15px/1.45 "DejaVu Sans", sans-serif; {body} }}
{style}
</style></head><body>{content}<div id="end"></div></body></html>"""

SLACK_STYLE = """
.msg { display: flex; padding: 10px 12px; background: #fff; color: #1d1c1d; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff;
  font-weight: bold; text-align: center; line-height: 36px; flex: none; margin-right: 8px; }
.body { flex: 1; min-width: 0; }
.who { font-weight: bold; } .app { font-size: 10px; background: #e8e8e8; color: #616061;
  padding: 0 3px; border-radius: 2px; margin-left: 4px; font-weight: bold; }
.header { font-size: 17px; font-weight: 900; margin: 6px 0 4px; }
.section { margin: 4px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 12px; margin: 4px 0; }
.fields div { white-space: pre-wrap; overflow-wrap: anywhere; }
.context { font-size: 12px; color: #616061; margin: 4px 0; white-space: pre-wrap; }
.actions { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0; }
.button { border: 1px solid #c7c7c7; border-radius: 4px; padding: 3px 10px; font-size: 13px;
  font-weight: bold; background: #fff; }
.button.danger { color: #e01e5a; } .button.primary { background: #007a5a; color: #fff; }
code { font: 12px "DejaVu Sans Mono", monospace; color: #e01e5a; background: #f6f6f6;
  border: 1px solid #e2e2e2; border-radius: 3px; padding: 0 2px; }
pre { font: 12px/1.4 "DejaVu Sans Mono", monospace; background: #f8f8f8; border: 1px solid
  #e2e2e2; border-radius: 4px; padding: 6px; margin: 4px 0; white-space: pre-wrap;
  overflow-wrap: anywhere; }
a { color: #1264a3; text-decoration: none; }
.image { border: 1px solid #ddd; border-radius: 4px; padding: 6px; color: #616061; }
"""

TELEGRAM_STYLE = """
.chat { padding: 10px 8px; }
.bubble { background: #fff; border-radius: 12px; padding: 7px 10px; color: #000;
  white-space: pre-wrap; overflow-wrap: anywhere; box-shadow: 0 1px 1px rgba(0,0,0,.15);
  margin-top: 8px; }
.kb { display: grid; gap: 4px; margin-top: 4px; }
.kb-row { display: flex; gap: 4px; }
.kb-button { flex: 1; background: rgba(0,0,0,.28); color: #fff; border-radius: 8px;
  padding: 7px 4px; text-align: center; font-size: 13px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
code { font: 13px "DejaVu Sans Mono", monospace; color: #b5302e; }
pre { font: 13px/1.35 "DejaVu Sans Mono", monospace; background: #f1f1f1; border-radius: 6px;
  padding: 5px 7px; margin: 3px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
a { color: #2481cc; text-decoration: none; }
.photo { background: #d8e4ee; border-radius: 12px; padding: 30px 10px; text-align: center;
  color: #46698c; margin-top: 8px; }
"""


# Styles of what only some pages have (inline, so other pages stay as they were drawn):
# the rule over a Slack thread's replies and the quote atop a Telegram reply.
THREAD_RULE = (
    "font-size: 13px; color: #616061; border-bottom: 1px solid #e2e2e2; margin: 4px 12px;"
    " padding: 2px 0"
)
QUOTE = (
    "border-left: 3px solid #2481cc; padding-left: 6px; margin-bottom: 4px; color: #2481cc;"
    " font-size: 13px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis"
)


# -- Slack's mrkdwn, as the app formats it -----------------------------------------------

_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)\|([^>]*)>")
_NOT_WORD = r"(?<![\w\u200b])"
_EMPHASIS = [
    (re.compile(_NOT_WORD + r"\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w\u200b])"), "b"),
    (re.compile(_NOT_WORD + r"_(?!\s)([^_\n]+?)(?<!\s)_(?![\w\u200b])"), "i"),
    (re.compile(_NOT_WORD + r"~(?!\s)([^~\n]+?)(?<!\s)~(?![\w\u200b])"), "s"),
]


def mrkdwn_html(text: str) -> str:
    """Slack mrkdwn (already escaped for Slack: &amp; &lt; &gt;) as HTML."""
    held: list[str] = []

    def hold(markup: str) -> str:
        held.append(markup)
        return f"\x00{len(held) - 1}\x00"

    # A code block is a block of its own: the newline that ends its line is not a line.
    text = re.sub(r"```\n", "```", text)
    text = _FENCE.sub(lambda m: hold(f"<pre>{m[1].strip(chr(10))}</pre>"), text)
    text = _INLINE_CODE.sub(lambda m: hold(f"<code>{m[1]}</code>"), text)
    text = _LINK.sub(lambda m: hold(f'<a href="{html.escape(m[1])}">{m[2]}</a>'), text)
    for pattern, tag in _EMPHASIS:
        text = pattern.sub(lambda m, tag=tag: f"<{tag}>{m[1]}</{tag}>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: held[int(m[1])], text)


def _plain(value: dict[str, Any]) -> str:
    return html.escape(str(value.get("text", "")))


def _text(value: dict[str, Any]) -> str:
    if value.get("type") == "mrkdwn":
        return mrkdwn_html(str(value.get("text", "")))
    return _plain(value)


def _slack_block(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        return f'<div class="header">{_plain(block["text"])}</div>'
    if kind == "section" and "fields" in block:
        cells = "".join(f"<div>{_text(f)}</div>" for f in block["fields"])
        return f'<div class="fields">{cells}</div>'
    if kind == "section":
        return f'<div class="section">{_text(block["text"])}</div>'
    if kind == "context":
        return '<div class="context">' + " ".join(_text(e) for e in block["elements"]) + "</div>"
    if kind == "actions":
        buttons = "".join(
            f'<span class="button {e.get("style", "")}">{_plain(e["text"])}</span>'
            for e in block["elements"]
        )
        return f'<div class="actions">{buttons}</div>'
    if kind == "image":
        return f'<div class="image">🖼 {html.escape(str(block.get("alt_text", "")))}</div>'
    return f"<pre>{html.escape(json.dumps(block))}</pre>"


def slack_page(messages: list[dict[str, Any]]) -> str:
    """chat.postMessage arguments (text, blocks) as Slack shows them, one after another;
    those with a thread_ts under a "Thread" rule, as the thread's view shows them."""
    parts = []
    for message in messages:
        if "thread_ts" in message and not any(THREAD_RULE in p for p in parts):
            replies = sum(1 for m in messages if "thread_ts" in m)
            parts.append(f'<div style="{THREAD_RULE}">{replies} replies</div>')
        parts.append(
            '<div class="msg"><div class="avatar">od</div><div class="body">'
            '<span class="who">opsdesk</span><span class="app">APP</span>'
            + "".join(_slack_block(b) for b in message.get("blocks", []))
            + "</div></div>"
        )
    content = "".join(parts)
    return _PAGE.format(width=PHONE_WIDTH, body="background: #fff;", style=SLACK_STYLE,
                        content=content)  # fmt: skip


# -- Telegram ------------------------------------------------------------------------------


# A message whose text starts with this answers the first message (a Telegram reply).
REPLY_MARK = "[reply] "


def telegram_page(messages: list[tuple[str, list[list[str]]]]) -> str:
    """(HTML text, keyboard rows of labels) of each sendMessage, as Telegram shows them;
    a message whose text is "[photo] …" is drawn as a photo with that caption, one
    that starts with REPLY_MARK as a reply quoting the first message's first line."""
    parts = []
    first_line = re.sub(r"<[^>]+>", "", messages[0][0].split("\n", 1)[0]) if messages else ""
    for text, keyboard in messages:
        if text.startswith(REPLY_MARK):
            text = text.removeprefix(REPLY_MARK).replace("\n<pre>", "<pre>")
            text = text.replace("</pre>\n", "</pre>")
            quote = f'<div style="{QUOTE}">{first_line}</div>'
            parts.append(f'<div class="bubble">{quote}{text}</div>')
        elif text.startswith("[photo] "):
            parts.append(f'<div class="photo">🖼 {text.removeprefix("[photo] ")}</div>')
        else:
            # A code block is a block of its own: the newlines around it are no lines.
            text = text.replace("\n<pre>", "<pre>").replace("</pre>\n", "</pre>")
            parts.append(f'<div class="bubble">{text}</div>')
        if keyboard:
            rows = "".join(
                '<div class="kb-row">'
                + "".join(f'<span class="kb-button">{html.escape(b)}</span>' for b in row)
                + "</div>"
                for row in keyboard
            )
            parts.append(f'<div class="kb">{rows}</div>')
    content = '<div class="chat">' + "".join(parts) + "</div>"
    return _PAGE.format(width=PHONE_WIDTH, body="background: #99b7c9;", style=TELEGRAM_STYLE,
                        content=content)  # fmt: skip


# -- Images --------------------------------------------------------------------------------


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(page: str, out: Path, browser: str) -> None:
    """The page as a PNG at a phone's width, cut below its content."""
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "page.html"
        source.write_text(page, encoding="utf-8")
        raw = Path(scratch) / "shot.png"
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--force-device-scale-factor=1", f"--window-size={PHONE_WIDTH},{PAGE_HEIGHT}",
             f"--user-data-dir={scratch}/profile", f"--screenshot={raw}", source.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        _trim(raw, out)


def _trim(raw: Path, out: Path) -> None:
    """Cut the rows below the content: those of the page's bottom colour."""
    from PIL import Image

    with Image.open(raw) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        background = rgb.getpixel((width - 1, height - 1))
        bottom = height
        while bottom > 1 and all(
            rgb.getpixel((x, bottom - 1)) == background for x in range(0, width, 3)
        ):
            bottom -= 1
        rgb.crop((0, 0, width, min(height, bottom + 10))).save(out, optimize=True)
