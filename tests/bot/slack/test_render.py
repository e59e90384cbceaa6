"""Reply → Block Kit: escaping and Slack's limits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from slack_sdk.models.blocks import Block as SdkBlock

from bot.slack.mrkdwn import escape
from bot.slack.render import (
    MAX_BLOCKS,
    MAX_SECTION_TEXT,
    fallback_text,
    render_blocks,
    replace_keyed,
)
from jobs.core.reply import Block, Button, Reply, ReplyField, Span


def assert_valid(blocks: list[dict]) -> None:
    """slack_sdk's own models check Slack's limits: parse and validate each block."""
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        parsed = SdkBlock.parse(block)
        assert parsed is not None
        parsed.validate_json()


@pytest.mark.parametrize(
    ("untrusted", "shown"),
    [
        ("<!channel> deploy now", "&lt;!channel&gt; deploy now"),
        ("<!here>", "&lt;!here&gt;"),
        ("ping <@U123>", "ping &lt;@U123&gt;"),
        ("<http://evil.example|click me>", "&lt;http://evil.example|click me&gt;"),
        ("a & b", "a &amp; b"),
    ],
)
def test_untrusted_text_is_escaped_everywhere(untrusted: str, shown: str) -> None:
    assert escape(untrusted) == shown
    reply = Reply(
        title="t",
        blocks=[Block(text=untrusted), Block(text=untrusted, monospace=True)],
        fields=[ReplyField(label=untrusted, value=untrusted)],
        note=untrusted,
    )
    blocks = render_blocks(reply)
    mrkdwn = [
        text["text"]
        for block in blocks
        for text in [block.get("text", {}), *block.get("elements", []), *block.get("fields", [])]
        if text.get("type") == "mrkdwn"
    ]
    assert len(mrkdwn) == 4  # section, code section, field, note
    assert all(shown in text for text in mrkdwn)
    assert shown in fallback_text(Reply.text(untrusted))
    assert_valid(blocks)


def test_no_mrkdwn_text_holds_an_unescaped_angle_bracket() -> None:
    reply = Reply(blocks=[Block(text="<!channel> <@U1> <http://x|y>")], note="<!here>")
    for block in render_blocks(reply):
        texts = [block.get("text", {}), *block.get("elements", []), *block.get("fields", [])]
        for text in texts:
            if text.get("type") == "mrkdwn":
                assert "<" not in text["text"] and ">" not in text["text"]


def test_a_long_block_is_split_over_sections_without_losing_text() -> None:
    text = "\n".join(f"line {i}: " + "x" * 90 for i in range(100))  # ~10,000 characters
    blocks = render_blocks(Reply(blocks=[Block(text=text)]))
    assert len(blocks) >= 4
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in blocks)
    assert "\n".join(b["text"]["text"] for b in blocks) == text
    assert_valid(blocks)


def test_one_long_line_of_escaped_text_is_split_but_never_inside_an_entity() -> None:
    blocks = render_blocks(Reply(blocks=[Block(text="<" * 10_000, monospace=True)]))
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in blocks)
    joined = "".join(b["text"]["text"].strip("`") for b in blocks)
    assert joined == "&lt;" * 10_000
    assert_valid(blocks)


def test_more_than_fifty_blocks_are_cut_with_a_visible_note() -> None:
    reply = Reply(title="Many", blocks=[Block(text=f"finding {i}") for i in range(80)])
    blocks = render_blocks(reply)
    assert len(blocks) == MAX_BLOCKS
    assert blocks[-1]["type"] == "context"
    assert "cut: 32 more blocks" in blocks[-1]["elements"][0]["text"]
    assert_valid(blocks)


def test_long_fields_title_and_note_are_cut_with_a_note() -> None:
    reply = Reply(
        title="T" * 500,
        fields=[ReplyField(label=f"f{i}", value="v" * 5000) for i in range(12)],
        note="n" * 5000,
    )
    blocks = render_blocks(reply)
    assert blocks[0]["text"]["text"].endswith("… (cut)")
    assert len(blocks[0]["text"]["text"]) <= 150
    field_sections = [b for b in blocks if "fields" in b]
    assert [len(b["fields"]) for b in field_sections] == [10, 2]
    assert all(f["text"].endswith("… (cut)") for b in field_sections for f in b["fields"])
    assert_valid(blocks)


def test_a_button_label_over_75_characters_cannot_be_made() -> None:
    with pytest.raises(ValidationError):
        Button(label="x" * 76, payload="fb:1:h")


def test_buttons_carry_their_payload_and_unique_action_ids() -> None:
    buttons = [Button(label="Again", payload="fb:1:h") for _ in range(3)]
    blocks = render_blocks(Reply(blocks=[Block(text="a", key="finding:1", buttons=buttons)]))
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["fb:1:h", "fb:1:h#1", "fb:1:h#2"]
    assert {e["value"] for e in actions["elements"]} == {"fb:1:h"}
    assert actions["block_id"] == "finding:1~actions"
    assert blocks[0]["block_id"] == "finding:1"


def test_more_than_25_buttons_go_to_several_actions_blocks() -> None:
    buttons = [Button(label=str(i), payload=f"x:{i}") for i in range(30)]
    blocks = render_blocks(Reply(blocks=[Block(text="many", buttons=buttons)]))
    assert [len(b["elements"]) for b in blocks if b["type"] == "actions"] == [25, 5]
    assert_valid(blocks)


def test_a_press_replaces_only_the_blocks_of_its_key() -> None:
    def finding(n: int, text: str) -> Block:
        return Block(
            text=text, key=f"finding:{n}", buttons=[Button(label="Ok", payload=f"fb:{n}:h")]
        )

    message = render_blocks(
        Reply(title="Review", blocks=[finding(1, "one"), finding(2, "two")], note="end")
    )
    answer = Reply(blocks=[finding(2, "two, voted")], note="alice: Helpful")
    updated = replace_keyed(message, answer)
    assert updated is not None
    texts = [b["text"]["text"] for b in updated if b["type"] == "section"]
    assert texts == ["one", "two, voted"]
    assert updated[0] == message[0] and updated[-1] == message[-1]
    # The presser's confirmation is no line of the message: the block says who marked
    # what. A note an older opsdesk drew under the block goes with the redraw.
    assert len(updated) == len(message)
    with_old_note = [*updated[:-1], {**updated[-2], "block_id": "finding:2~note"}, updated[-1]]
    assert replace_keyed(with_old_note, answer) == updated
    # Pressing again redraws in place; the redrawn blocks get new block_ids (Slack asks
    # for that) that still name the key.
    again = replace_keyed(updated, answer, revision="1700000100.000200")
    assert again is not None
    assert [b["type"] for b in again] == [b["type"] for b in updated]
    redrawn = [b["block_id"] for b in again if b.get("block_id", "").startswith("finding:2")]
    assert redrawn == ["finding:2~r1700000100000200", "finding:2~actions~r1700000100000200"]
    assert replace_keyed(again, answer, revision="2") is not None
    assert replace_keyed(message, Reply(blocks=[Block(text="x", key="finding:9")])) is None


ZW = "\u200b"


@pytest.mark.parametrize(
    ("untrusted", "shown"),
    [
        ("*bold*", f"{ZW}*{ZW}bold{ZW}*{ZW}"),
        ("_italic_", f"{ZW}_{ZW}italic{ZW}_{ZW}"),
        ("~struck~", f"{ZW}~{ZW}struck{ZW}~{ZW}"),
        ("`code`", f"{ZW}`{ZW}code{ZW}`{ZW}"),
        ("snake_case_name and a*b", "snake_case_name and a*b"),  # nothing can pair there
    ],
)
def test_mrkdwn_formatting_characters_from_repositories_are_neutralised(
    untrusted: str, shown: str
) -> None:
    assert escape(untrusted) == shown
    [section] = [
        b for b in render_blocks(Reply(blocks=[Block(text=untrusted)])) if b["type"] == "section"
    ]
    assert section["text"]["text"] == shown
    # Inside a code block nothing formats: the text stays exactly as typed.
    code = render_blocks(Reply(blocks=[Block(text=untrusted, monospace=True)]))
    assert code[0]["text"]["text"] == f"```{untrusted}```"


def test_a_cut_review_keeps_its_summary_first_and_never_splits_a_finding() -> None:
    from jobs.core.reply import Button

    findings = [
        Block(
            text=f"finding {i}",
            key=f"finding:{i}",
            buttons=[Button(label=v, payload=f"fb:{i}:{v}") for v in ("h", "n", "fp", "r")],
        )
        for i in range(30)
    ]
    reply = Reply(
        title="Review demo",
        blocks=findings,
        fields=[ReplyField(label="Findings", value="new 30 · open 0 · fixed 0 · suppressed 0")],
        note="25 more: /findings demo for all",
    )
    blocks = render_blocks(reply)
    assert len(blocks) == MAX_BLOCKS
    assert blocks[0]["type"] == "header" and "Findings" in blocks[1]["fields"][0]["text"]
    assert "cut:" in blocks[-2]["elements"][0]["text"]  # the cut note, then the reply's note
    assert "/findings demo" in blocks[-1]["elements"][0]["text"]
    sections = [b["block_id"] for b in blocks if b.get("block_id", "").startswith("finding:")]
    shown = [s for s in sections if "~" not in s]
    assert sections == [x for s in shown for x in (s, f"{s}~actions")]  # each with its buttons
    assert_valid(blocks)


# Invisible and zero-width characters (what a pasted path must never carry).
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")


def _finding_reply() -> Reply:
    return Reply(
        blocks=[
            Block(
                spans=[
                    Span(text="🟠 "),
                    Span(text="_termui_impl"),
                    Span(text=" uses "),
                    Span(text="`*_x_*`", style="code"),
                    Span(text="\n"),
                    Span(text="src/click/_termui_impl.py:320", style="code"),
                    Span(text=" · "),
                    Span(text="F821 a|b", style="link", url="https://docs.example/r?a=1&b=<2>|"),
                    Span(text="    if x < 1 and y:\n        ```boom```", style="pre"),
                ],
                key="finding:1",
            )
        ]
    )


def test_code_spans_and_paths_are_inline_code_without_invisible_characters() -> None:
    [section] = render_blocks(_finding_reply())
    text = section["text"]["text"]
    code = text.split("\n")[1].split(" · ")[0]
    assert code == "`src/click/_termui_impl.py:320`"
    # A backtick inside code is a visible look-alike; nothing invisible anywhere in code.
    assert "`\u02cb*_x_*\u02cb`" in text
    snippet = "    if x &lt; 1 and y:\n        " + "\u02cb" * 3 + "boom" + "\u02cb" * 3
    assert text.endswith(f"\n```{snippet}```")
    for spans_text in (code, text.split("```")[1]):
        assert not any(char in spans_text for char in INVISIBLE)
    assert "<https://docs.example/r?a=1&amp;b=%3C2%3E%7C|F821 a|b>" in text
    assert_valid([section])


def test_the_notification_text_carries_no_invisible_character() -> None:
    text = fallback_text(_finding_reply())
    assert "src/click/_termui_impl.py:320" in text
    assert not any(char in text for char in INVISIBLE)


def test_a_link_to_anything_but_http_is_plain_text() -> None:
    block = Block(spans=[Span(text="docs", style="link", url="javascript:alert(1)")])
    assert block.spans[0].style == "plain"
    [section] = render_blocks(Reply(blocks=[block]))
    assert section["text"]["text"] == "docs"


def test_a_title_with_its_own_icon_gets_no_second_one() -> None:
    failed = render_blocks(Reply(title="❌ sync: failed", status="error"))
    assert failed[0]["text"]["text"] == "❌ sync: failed"
    error = render_blocks(Reply.error("No job named 'x'."))
    assert error[0]["text"]["text"] == "⚠️ Error"
