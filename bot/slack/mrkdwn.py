"""Untrusted text as Slack's mrkdwn: the control characters escaped (no <!channel>, no
forged link), formatting characters kept from pairing up, code and links made safe.
Pure; render.py builds Block Kit from it."""

from __future__ import annotations

import re

from jobs.core.reply import Span

# A formatting character that could open or close *bold*, _italic_, ~strike~ or
# `code`: one not between two letters or digits (snake_case stays as it is).
FORMATTING = re.compile(r"(?<![^\W_])[*_~`]|[*_~`](?![^\W_])")
ZERO_WIDTH_SPACE = "\u200b"


def escape_code(text: str) -> str:
    """mrkdwn's three control characters. This alone neutralises <!channel>, <!here>,
    <@U123> and <http://evil|text>; enough inside a ``` block, where nothing formats."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape(text: str) -> str:
    """Untrusted text for mrkdwn: the control characters, and the formatting
    characters too, so '*bold*' from a commit message shows as typed. Slack has no
    escape for them; zero-width spaces around one keep it from pairing up."""
    return FORMATTING.sub(
        lambda m: ZERO_WIDTH_SPACE + m.group() + ZERO_WIDTH_SPACE, escape_code(text)
    )


# mrkdwn has no escape for a backtick inside code: a visible look-alike takes its
# place there (never an invisible character, which a copied path would carry along).
BACKTICK_STAND_IN = "\u02cb"


def code_block(text: str) -> str:
    """A ``` code block; a ``` inside would close it early."""
    return "```" + text.replace("```", BACKTICK_STAND_IN * 3) + "```"


def inline_code(text: str) -> str:
    """`text` as inline code, one line at a time (inline code cannot span lines)."""
    return "\n".join(
        f"`{escape_code(line.replace('`', BACKTICK_STAND_IN))}`" if line.strip() else line
        for line in text.split("\n")
    )


def link(url: str, text: str) -> str:
    """<url|text>: the URL with mrkdwn's control characters and `|` percent-encoded."""
    safe = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{escape_code(text)}>"


def span_mrkdwn(span: Span) -> str:
    if span.style == "code":
        return inline_code(span.text)
    if span.style == "pre":
        return code_block(escape_code(span.text.strip("\n")))
    if span.style == "link":
        return link(span.url, span.text)
    if span.style == "bold":
        return f"*{escape(span.text)}*" if span.text.strip() else span.text
    return escape(span.text)


def spans_mrkdwn(spans: list[Span]) -> str:
    """A block's spans as mrkdwn; a code block starts and ends on a line of its own."""
    out = ""
    for span in spans:
        piece = span_mrkdwn(span)
        if span.style == "pre":
            if out and not out.endswith("\n"):
                out += "\n"
            piece += "\n"
        out += piece
    return out.rstrip("\n")
