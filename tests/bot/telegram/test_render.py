"""The Telegram renderer: escaping, splitting at 4,096 characters, keyboards, and the
64-byte limit on every button payload the handlers can make."""

from __future__ import annotations

from bot.telegram.redraw import edit_after_press
from bot.telegram.render import (
    MAX_MESSAGE_LENGTH,
    Placed,
    render,
    utf16_len,
)
from handlers.catalog import ACTIONS
from jobs.core.reply import MAX_PAYLOAD_BYTES, Block, Button, Reply, ReplyField, Span
from jobs.review.feedback import CODE_OF, VERDICT_CODES
from jobs.review.replies import finding_block
from storage.models import Finding
from tests.standins.telegram_api import parse_html

BIGGEST_ID = 2**63 - 1  # the largest id a BIGINT primary key can reach


def visible(chunk_html: str) -> str:
    return parse_html(chunk_html)[0]


def test_everything_is_escaped() -> None:
    reply = Reply(
        title="<b>x</b> & co",
        blocks=[Block(text="<script>&amp;"), Block(text="a < b", monospace=True)],
        fields=[ReplyField(label="<i>", value="</pre>")],
        note="@channel <a href='x'>",
    )
    [chunk] = render(reply)
    assert visible(chunk.html) == (
        "<b>x</b> & co\n\n<script>&amp;\n\na < b\n\n<i>: </pre>\n\n@channel <a href='x'>"
    )
    assert "<script>" not in chunk.html
    assert chunk.html.startswith("<b>&lt;b&gt;x&lt;/b&gt; &amp; co</b>")
    assert "<pre>a &lt; b</pre>" in chunk.html


def test_a_long_reply_is_split_between_lines_and_a_pre_is_reopened() -> None:
    lines = [f"{n:05d} " + "y" * 50 for n in range(300)]
    reply = Reply(title="T", blocks=[Block(text="\n".join(lines), monospace=True)])
    chunks = render(reply)
    assert len(chunks) == 5
    texts = [visible(c.html) for c in chunks]  # parse_html fails on unbalanced tags
    assert all(utf16_len(t) <= MAX_MESSAGE_LENGTH for t in texts)
    assert all(c.html.count("<pre>") == c.html.count("</pre>") == 1 for c in chunks)
    assert texts[0].startswith("T\n\n00000 ")
    assert "\n".join(texts).splitlines()[2:] == lines


def test_a_single_over_long_line_is_hard_split() -> None:
    line = "é" * 5000 + "😀" * 3000  # the emoji count twice in UTF-16
    chunks = render(Reply.text(line))
    texts = [visible(c.html) for c in chunks]
    assert all(utf16_len(t) <= MAX_MESSAGE_LENGTH for t in texts)
    assert "".join(texts) == line


def test_each_message_carries_the_rows_of_its_own_blocks_and_names_them() -> None:
    first = Block(text="x" * 3000, buttons=[Button(label="A", payload="a:1")], key="k:1")
    second = Block(text="y" * 3000, buttons=[Button(label="B", payload="b:1")], key="k:2")
    reply = Reply(blocks=[first, second])
    chunks = render(reply)
    assert len(chunks) == 2
    assert [[(b.label, b.payload) for b in row] for row in chunks[0].keyboard] == [
        [("#1 A", "a:1")]
    ]
    assert [[(b.label, b.payload) for b in row] for row in chunks[1].keyboard] == [
        [("#2 B", "b:1")]
    ]
    assert visible(chunks[1].html).startswith("#2 yyy")
    assert chunks[0].placed == [Placed("k:1", 0, 1)]
    assert chunks[1].placed == [Placed("k:2", 0, 2)]


def test_a_split_never_cuts_a_block_and_keeps_its_buttons_with_it() -> None:
    blocks = [
        Block(text=f"finding {n}\n" + "z" * 300, buttons=[Button(label="H", payload=f"fb:{n}:h")])
        for n in range(40)
    ]
    chunks = render(Reply(title="Review", blocks=blocks))
    assert len(chunks) > 1
    for chunk in chunks:
        text = visible(chunk.html)
        assert utf16_len(text) <= MAX_MESSAGE_LENGTH
        shown = [p.split("\n")[0].split()[-1] for p in text.split("\n\n") if "finding" in p]
        assert [b.payload for row in chunk.keyboard for b in row] == [f"fb:{n}:h" for n in shown]
        assert all(p.endswith("z" * 300) for p in text.split("\n\n") if "finding" in p)


def test_a_message_holds_at_most_64_buttons() -> None:
    blocks = [
        Block(text=f"f{n}", buttons=[Button(label="x", payload=f"fb:{n}:{c}") for c in "hnr"])
        for n in range(30)
    ]
    chunks = render(Reply(blocks=blocks))
    assert [sum(len(row) for row in c.keyboard) for c in chunks] == [63, 27]


def biggest_finding() -> Finding:
    return Finding(
        id=BIGGEST_ID,
        repo="r",
        fingerprint="f",
        path="p" * 500,
        line=1,
        severity="error",
        category="c",
        message="m",
        source="s",
    )


def test_every_payload_the_handlers_can_make_fits_64_bytes() -> None:
    payloads = [
        button.payload
        for chosen in [None, *CODE_OF]
        for button in finding_block(biggest_finding(), chosen=chosen).buttons
    ]
    assert len(payloads) == 5 * len(VERDICT_CODES)
    # Every action's payload with the largest id and its longest argument.
    longest_code = max(VERDICT_CODES, key=len)
    payloads += [f"{action.prefix}:{BIGGEST_ID}:{longest_code}" for action in ACTIONS]
    for payload in payloads:
        assert len(payload.encode()) <= MAX_PAYLOAD_BYTES, payload
        Button(label="x", payload=payload)  # the model's own check agrees
    # And what the renderer puts into callback_data is the payload, unchanged.
    reply = Reply(blocks=[finding_block(biggest_finding())])
    rendered = {b.payload for chunk in render(reply) for row in chunk.keyboard for b in row}
    assert rendered == {f"fb:{BIGGEST_ID}:{code}" for code in VERDICT_CODES}


def test_a_press_answer_replaces_only_its_recorded_paragraph_and_row() -> None:
    row = biggest_finding()
    other = Block(text="other finding", buttons=[Button(label="O", payload="fb:7:h")], key="k")
    original = Reply(title="Review", blocks=[other, finding_block(row, state="new")], note="n")
    [chunk] = render(original)
    text = visible(chunk.html)
    keyboard = [[(b.label, b.payload) for b in r] for r in chunk.keyboard]
    placed = next(p for p in chunk.placed if p.key == f"finding:{BIGGEST_ID}")
    assert (placed.paragraph, placed.number) == (2, 2)
    # Several findings: each shows one *Feedback* button; its press draws the verdicts.
    assert keyboard[1] == [("#2 Feedback", f"fb:{BIGGEST_ID}:v")]
    answer = Reply(title="Feedback recorded", blocks=[finding_block(row, chosen="resolved")])
    edit = edit_after_press(text, chunk.html, keyboard, f"fb:{BIGGEST_ID}:v", answer, placed)
    assert edit is not None
    paragraphs = visible(edit.html).split("\n\n")
    assert paragraphs[0] == "Review" and paragraphs[1] == "#1 other finding"
    assert paragraphs[2].startswith("#2 ") and "[new]" not in paragraphs[2]
    assert paragraphs[3] == "n"
    assert edit.keyboard[0] == [("#1 O", "fb:7:h")]
    # Verdicts are each person's: no button carries a tick for everyone to see.
    assert edit.keyboard[1:] == [
        [("#2 Helpful", f"fb:{BIGGEST_ID}:h"), ("#2 Not helpful", f"fb:{BIGGEST_ID}:n")],
        [("#2 False positive", f"fb:{BIGGEST_ID}:fp"), ("#2 Resolved", f"fb:{BIGGEST_ID}:r")],
    ]
    assert not any("✓" in label for row in edit.keyboard for label, _ in row)


def test_a_press_whose_paragraph_is_not_in_the_message_gives_no_edit() -> None:
    [chunk] = render(Reply.text("something else entirely"))
    answer = Reply(blocks=[finding_block(biggest_finding())])
    placed = Placed(f"finding:{BIGGEST_ID}", 5, 0)
    text = "something else entirely"
    assert edit_after_press(text, chunk.html, [], "fb:1:h", answer, placed) is None


def test_code_spans_paths_links_and_snippets_as_telegram_html() -> None:
    reply = Reply(
        blocks=[
            Block(
                spans=[
                    Span(text="🔴 Undefined name "),
                    Span(text="<_x_>", style="code"),
                    Span(text="\n"),
                    Span(text="src/click/_termui_impl.py:320", style="code"),
                    Span(text=" · "),
                    Span(
                        text="GitHub", style="link", url='https://github.com/o/r/blob/s/a.py?"x"#L3'
                    ),
                    Span(text="return _x_ & 1", style="pre"),
                ],
                key="finding:1",
            )
        ]
    )
    [chunk] = render(reply)
    assert chunk.html == (
        "🔴 Undefined name <code>&lt;_x_&gt;</code>\n"
        "<code>src/click/_termui_impl.py:320</code> · "
        '<a href="https://github.com/o/r/blob/s/a.py?&quot;x&quot;#L3">GitHub</a>\n'
        "<pre>return _x_ &amp; 1</pre>"
    )
    assert not any(char in chunk.html for char in "\u200b\u200c\u200d\u2060\ufeff\u00ad")
