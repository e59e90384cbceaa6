"""The one reply model. Handlers and jobs build it; the Slack, Telegram and console
adapters render it. It lives in jobs/ because jobs post too (digests, reviews, batch
outputs) and imports only point down. All text here is plain: renderers escape it."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jobs.core.safe_text import neutralised
from jobs.core.scrub import scrub

# Telegram's callback_data limit; Slack's button value (2,000) is looser.
MAX_PAYLOAD_BYTES = 64


class Button(BaseModel):
    label: str = Field(min_length=1, max_length=75)
    payload: str
    style: Literal["default", "primary", "danger"] = "default"

    @field_validator("payload")
    @classmethod
    def _fits_telegram(cls, value: str) -> str:
        size = len(value.encode())
        if not 1 <= size <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"button payload must be 1-{MAX_PAYLOAD_BYTES} bytes, got {size}")
        return value


SpanStyle = Literal["plain", "bold", "code", "pre", "link"]
# Only these schemes become links; anything else shows as plain text.
LINK_SCHEMES = ("https://", "http://")
MAX_URL = 2000


class Span(BaseModel):
    """A piece of a block's text with its meaning: `code` (a path, an identifier:
    inline code, copied as typed), `pre` (lines of code, a snippet), `link` (its text
    opens `url`), `bold`, or `plain`. Renderers format each for their platform and
    escape its text there, never with invisible characters."""

    text: str
    style: SpanStyle = "plain"
    url: str = ""

    @model_validator(mode="after")
    def _safe_link(self) -> Span:
        if self.style == "link" and (
            not self.url.startswith(LINK_SCHEMES) or len(self.url) > MAX_URL
        ):
            self.style, self.url = "plain", ""
        return self


class Block(BaseModel):
    """A paragraph, optionally monospaced, with the buttons that act on it.

    `spans`, when given, are the paragraph with its formatting; `text` is then their
    plain text (for notifications, logs and the terminal), derived, never set apart.

    `key` names what the block shows (e.g. "finding:42"). A button press answers
    with blocks carrying the same key, and adapters replace those blocks in the
    message the button was on, leaving the rest of the message as it was."""

    text: str = ""
    spans: list[Span] = Field(default_factory=list)
    monospace: bool = False
    buttons: list[Button] = Field(default_factory=list)
    key: str | None = Field(default=None, max_length=200)
    # One button that stands for `buttons` where a keyboard is short of room (Telegram,
    # with several findings in a message): its press answers with this block, buttons
    # and all, which the adapter draws in its place.
    opener: Button | None = None

    @model_validator(mode="after")
    def _text_of_spans(self) -> Block:
        # A snippet ends its own line: a newline right after it would be a blank line.
        for before, index in zip(self.spans, range(1, len(self.spans)), strict=False):
            after = self.spans[index]
            if before.style == "pre" and after.text.startswith("\n"):
                self.spans[index] = after.model_copy(update={"text": after.text[1:]})
        if self.spans:
            self.text = plain_text(self.spans)
        return self


def plain_text(spans: list[Span]) -> str:
    """Spans as plain text: a snippet (pre) on lines of its own."""
    text = ""
    for span in spans:
        if span.style == "pre":
            code = span.text.strip("\n")
            text += ("" if not text or text.endswith("\n") else "\n") + code + "\n"
        else:
            text += span.text
    return text.rstrip("\n")


class ReplyField(BaseModel):
    label: str
    value: str


class Image(BaseModel):
    # base64 in JSON, so an outbox row holds the whole post, chart included.
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    png: bytes
    title: str
    filename: str = "chart.png"


class Reply(BaseModel):
    title: str = ""
    blocks: list[Block] = Field(default_factory=list)
    fields: list[ReplyField] = Field(default_factory=list)
    note: str = ""  # small print under the reply
    image: Image | None = None
    # ok: a normal answer; error: bad input or a failure; refused: no rights.
    status: Literal["ok", "error", "refused"] = "ok"
    # Errors and refusals are shown to the asker alone where the platform can.
    private: bool = False

    @classmethod
    def text(cls, text: str, title: str = "") -> Reply:
        return cls(title=title, blocks=[Block(text=text)])

    @classmethod
    def error(cls, text: str, usage: str = "") -> Reply:
        blocks = [Block(text=text)]
        if usage:
            blocks.append(Block(text=f"Usage: {usage}", monospace=True))
        return cls(title="Error", blocks=blocks, status="error", private=True)

    @classmethod
    def refused(cls, text: str) -> Reply:
        return cls(title="Not allowed", blocks=[Block(text=text)], status="refused", private=True)

    def scrubbed(self) -> Reply:
        """This reply as it may be shown: every configured secret redacted from its
        text, and every control, bidirectional, invisible or unpaired-surrogate
        character in it (a repository's names, a model's or a user's words) replaced
        by its visible escape (`jobs.core.safe_text`). The image's bytes and the
        buttons' payloads are left as they are."""
        data = _neutralised(self.model_dump(mode="json", exclude={"image"}))
        clean = Reply.model_validate_json(scrub(json.dumps(data, ensure_ascii=False)))
        return clean.model_copy(update={"image": self.image})

    def all_buttons(self) -> list[Button]:
        """Every button in display order."""
        return [b for block in self.blocks for b in block.buttons]


def _neutralised(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        return value if key == "payload" else neutralised(value)
    if isinstance(value, dict):
        return {k: _neutralised(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_neutralised(item) for item in value]
    return value
