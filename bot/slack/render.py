"""A Reply as Slack Block Kit: pure, no I/O.

Every string from users, repositories and models is escaped for mrkdwn, and every
Block Kit limit is kept here, so Slack never rejects a message: long text is split
over several sections, and whatever still does not fit is cut with a visible note.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from bot.slack.mrkdwn import code_block, escape, escape_code, spans_mrkdwn
from jobs.core.reply import Block, Button, Reply

SlackBlock = dict[str, Any]

# Slack's limits (Block Kit reference; slack_sdk.models.blocks checks the same).
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_ACTIONS = 25
MAX_ID = 255
MAX_CONTEXT_TEXT = 3000
FALLBACK_TEXT = 3000  # `text` is the notification and screen-reader line; keep it short
CUT_NOTE = "… (cut)"
# A block's buttons live in an actions block whose block_id is the key plus this.
ACTIONS_SUFFIX = "~actions"
NOTE_SUFFIX = "~note"
PART_SUFFIX = "~"

STATUS_ICON = {"ok": "", "error": "⚠️ ", "refused": "⛔ "}


def _cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending in a visible note when cut (and never in the
    middle of an entity such as &amp;lt;)."""
    if len(text) <= limit:
        return text
    end = limit - len(CUT_NOTE)
    amp = text.rfind("&", max(0, end - 4), end)
    if amp >= 0 and ";" not in text[amp:end]:
        end = amp
    return text[:end] + CUT_NOTE


def _split(text: str, limit: int) -> Iterator[str]:
    """Split escaped text into pieces of at most `limit` characters, at line ends where
    possible and never inside an entity such as &amp;lt;."""
    while len(text) > limit:
        split = text.rfind("\n", 0, limit + 1)
        if split <= 0:
            split = limit
            amp = text.rfind("&", max(0, split - 4), split)
            if amp > 0 and ";" not in text[amp:split]:
                split = amp
        yield text[:split]
        text = text[split:].removeprefix("\n")
    yield text


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _block_sections(block: Block) -> list[SlackBlock]:
    """One Block's text as sections of at most 3,000 characters each."""
    budget = MAX_SECTION_TEXT - (6 if block.monospace else 0)  # the ``` fences
    if block.spans and not block.monospace:
        text = spans_mrkdwn(block.spans) or " "
    else:
        text = (escape_code(block.text) if block.monospace else escape(block.text)) or " "
    return [_section(piece or " ", block.monospace) for piece in _split(text, budget)]


def _section(text: str, monospace: bool) -> SlackBlock:
    return {"type": "section", "text": _mrkdwn(code_block(text) if monospace else text)}


def action_ids(buttons: list[Button]) -> list[str]:
    """action_id must be unique within a message: the payload, numbered on repeats."""
    seen: dict[str, int] = {}
    ids = []
    for button in buttons:
        count = seen.get(button.payload, 0)
        seen[button.payload] = count + 1
        ids.append(button.payload if count == 0 else f"{button.payload}#{count}")
    return ids


def _actions(buttons: list[Button], ids: list[str], block_id: str | None) -> list[SlackBlock]:
    blocks = []
    for start in range(0, len(buttons), MAX_ACTIONS):
        elements = []
        for button, action_id in zip(
            buttons[start : start + MAX_ACTIONS], ids[start : start + MAX_ACTIONS], strict=True
        ):
            element: SlackBlock = {
                "type": "button",
                "text": _plain(button.label),
                "action_id": action_id[:MAX_ID],
                "value": button.payload,
            }
            if button.style != "default":
                element["style"] = button.style
            elements.append(element)
        actions: SlackBlock = {"type": "actions", "elements": elements}
        if block_id is not None:
            actions["block_id"] = block_id if start == 0 else f"{block_id}{start}"
        blocks.append(actions)
    return blocks


def _keyed(blocks: list[SlackBlock], key: str | None) -> list[SlackBlock]:
    """Name a Block's Slack blocks after its key: the first is the key itself, the rest
    key~1, key~2…, so a button press can find and replace all of them."""
    if key is None:
        return blocks
    for index, slack_block in enumerate(blocks):
        if slack_block["type"] == "actions":
            continue  # already named
        slack_block["block_id"] = key if index == 0 else f"{key}{PART_SUFFIX}{index}"
    return blocks


def render_block(block: Block, ids: Iterator[str]) -> list[SlackBlock]:
    """One Block: its sections, then its buttons."""
    slack_blocks = _block_sections(block)
    if block.buttons:
        own_ids = [next(ids) for _ in block.buttons]
        actions_id = None if block.key is None else f"{block.key}{ACTIONS_SUFFIX}"
        slack_blocks += _actions(block.buttons, own_ids, actions_id)
    return _keyed(slack_blocks, block.key)


def render_blocks(reply: Reply) -> list[SlackBlock]:
    """The whole reply as at most 50 blocks: the title and the summary fields first,
    then the blocks (a finding with its buttons) whole, then the note. What does not
    fit is cut from the end a whole block at a time, with a note saying so; the
    summary is never what is cut."""
    ids = iter(action_ids(reply.all_buttons()))
    head: list[SlackBlock] = []
    if reply.title:
        title = reply.title if _has_icon(reply.title) else STATUS_ICON[reply.status] + reply.title
        head.append({"type": "header", "text": _plain(_cut(title, MAX_HEADER_TEXT))})
    fields = [
        _mrkdwn(_cut(f"*{escape(field.label)}*\n{escape(field.value)}", MAX_FIELD_TEXT))
        for field in reply.fields
    ]
    for start in range(0, len(fields), MAX_FIELDS):
        head.append({"type": "section", "fields": fields[start : start + MAX_FIELDS]})
    groups = [render_block(block, ids) for block in reply.blocks]
    tail: list[SlackBlock] = []
    if reply.note:
        tail.append(_context(reply.note))
    return fit_groups(head, groups, tail)


def _has_icon(title: str) -> bool:
    """The title leads with its own icon (❌ deploy-docs: failed): none is added."""
    return unicodedata.category(title[:1]) == "So"


def fit_groups(
    head: list[SlackBlock], groups: list[list[SlackBlock]], tail: list[SlackBlock]
) -> list[SlackBlock]:
    """head + groups + tail in at most 50 blocks, dropping whole groups from the end."""
    total = len(head) + sum(len(g) for g in groups) + len(tail)
    if total <= MAX_BLOCKS:
        return head + [b for g in groups for b in g] + tail
    room = MAX_BLOCKS - len(head) - len(tail) - 1  # one for the cut note
    kept: list[SlackBlock] = []
    for group in groups:
        if len(kept) + len(group) > room:
            break
        kept += group
    left_out = total - len(head) - len(tail) - len(kept)
    note = f"… (cut: {left_out} more blocks did not fit in one Slack message)"
    return fit([*head, *kept, {"type": "context", "elements": [_mrkdwn(note)]}, *tail])


def _context(text: str, block_id: str | None = None) -> SlackBlock:
    block: SlackBlock = {
        "type": "context",
        "elements": [_mrkdwn(_cut(escape(text), MAX_CONTEXT_TEXT))],
    }
    if block_id is not None:
        block["block_id"] = block_id
    return block


def fit(blocks: list[SlackBlock]) -> list[SlackBlock]:
    """At most 50 blocks; past that, 49 and a note saying how many were left out."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    left_out = len(blocks) - (MAX_BLOCKS - 1)
    note = f"… (cut: {left_out} more blocks did not fit in one Slack message)"
    return [*blocks[: MAX_BLOCKS - 1], {"type": "context", "elements": [_mrkdwn(note)]}]


def fallback_text(reply: Reply) -> str:
    """The message's `text`: shown in notifications and read by screen readers."""
    parts = [reply.title] + [block.text for block in reply.blocks[:1]]
    text = " — ".join(part for part in parts if part) or "opsdesk"
    # Notifications do not format: only mrkdwn's control characters are escaped, so a
    # path in a lock-screen line carries nothing invisible.
    return _cut(escape_code(text), FALLBACK_TEXT)


def render_message(reply: Reply) -> dict[str, Any]:
    """Keyword arguments for chat.postMessage, chat.update, respond() and ack()."""
    return {"text": fallback_text(reply), "blocks": render_blocks(reply)}


def _key_of(block_id: str) -> str:
    for suffix in (ACTIONS_SUFFIX, NOTE_SUFFIX, PART_SUFFIX):
        if suffix in block_id:
            return block_id.split(suffix, 1)[0]
    return block_id


def replace_keyed(
    message_blocks: list[SlackBlock], reply: Reply, revision: str | None = None
) -> list[SlackBlock] | None:
    """The message's blocks with each of the reply's keyed Blocks swapped in where the
    blocks of the same key were (the reply's note goes under them). None when the
    message shows none of the reply's keys: there is nothing to update in place.

    Slack asks for new block_ids when a message is updated: `revision` (e.g. the
    press's action_ts) is appended to the new blocks' ids, which still name the key."""
    ids = iter(action_ids(reply.all_buttons()))
    fresh: dict[str, list[SlackBlock]] = {}
    for block in reply.blocks:
        if block.key is None:
            continue
        fresh[block.key] = render_block(block, ids)
    # The answer's note (the presser's confirmation) is not drawn into the message:
    # the redrawn block says who marked what, once per verdict, for everyone.
    if revision:
        tag = "~r" + "".join(ch for ch in revision if ch.isalnum())[:30]
        for slack_blocks in fresh.values():
            for slack_block in slack_blocks:
                if "block_id" in slack_block:
                    slack_block["block_id"] = (slack_block["block_id"] + tag)[:MAX_ID]
    result: list[SlackBlock] = []
    replaced: set[str] = set()
    for slack_block in message_blocks:
        key = _key_of(str(slack_block.get("block_id", "")))
        if key not in fresh:
            result.append(slack_block)
        elif key not in replaced:
            result += fresh[key]
            replaced.add(key)
    if not replaced:
        return None
    # Buttons elsewhere in the message may now repeat an action_id of the new blocks.
    _renumber_duplicate_action_ids(result)
    return fit(result)


def _renumber_duplicate_action_ids(blocks: list[SlackBlock]) -> None:
    seen: set[str] = set()
    for slack_block in blocks:
        for element in slack_block.get("elements", []) if slack_block["type"] == "actions" else []:
            action_id = element.get("action_id", "")
            candidate, n = action_id, 0
            while candidate in seen:
                n += 1
                candidate = f"{action_id}#{n}"
            element["action_id"] = candidate
            seen.add(candidate)
