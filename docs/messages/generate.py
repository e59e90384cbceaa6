"""docs/messages.md: every kind of message opsdesk sends, as Slack and Telegram draw it
at a phone's width and as the terminal prints it, made by the code that sends it.

    python docs/messages/generate.py           # the page and its images (headless Chromium)
    python docs/messages/generate.py --check   # exit 1 when the page is not what the code makes

Each image is named on the page with a digest of the page it was drawn from (the Block
Kit JSON or Telegram HTML in an app's manner), so `--check` needs no browser: a message
that changed changes its digest, and the page no longer matches. Examples come from
the modules in EXAMPLE_MODULES, each with `examples(world) -> list[Example]`.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import importlib
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

from preview import REPLY_MARK, chromium, screenshot, slack_page, telegram_page  # noqa: E402
from world import Example, World, steady  # noqa: E402

from bot.render_text import render_text  # noqa: E402
from bot.slack.render import render_blocks, render_message, replace_keyed  # noqa: E402
from bot.telegram.redraw import edit_after_press  # noqa: E402
from bot.telegram.render import render  # noqa: E402
from jobs.review.feedback import OPEN_CODE  # noqa: E402

PAGE = ROOT / "docs" / "messages.md"
IMAGES = HERE / "images"
# Sections in this order; each module's examples go to the section they name.
EXAMPLE_MODULES = ["review_examples", "ops_examples"]
GROUPS = [
    "Reviews", "Findings", "After a press", "Digest", "Jobs and alerts", "Health",
    "Errors and answers",
]  # fmt: skip

HEAD = """# What opsdesk's messages look like

Every kind of message opsdesk sends, as Slack and Telegram draw it at a phone's width
and as the terminal prints it. The page is made by `python docs/messages/generate.py`
from the code that sends the messages, over real repositories, linters and a real
database; a test fails when it is not what the code makes now. The images imitate the
apps' look from exactly what is sent (Block Kit JSON, Telegram HTML and keyboards).
Measured durations are shown as one steady figure.
"""


def _digest(page: str) -> str:
    return hashlib.sha256(page.encode("utf-8")).hexdigest()[:16]


def slack_messages(example: Example) -> list[dict[str, object]]:
    """What Slack shows: the message, or the message after the press redrew it."""
    message = render_message(example.reply)
    if example.thread:
        return [message] + [{**render_message(r), "thread_ts": "root"} for r in example.thread]
    if example.answer is None:
        return [message]
    redrawn = replace_keyed(render_blocks(example.reply), example.answer, revision="1")
    return [{**message, "blocks": redrawn if redrawn is not None else message["blocks"]}]


def telegram_messages(example: Example) -> list[tuple[str, list[list[str]]]]:
    """What Telegram shows: each sendMessage (HTML, keyboard labels), pressed ones edited."""
    reply = example.telegram or example.reply
    shown: list[tuple[str, list[list[str]]]] = []
    for chunk in render(reply):
        html_text = chunk.html
        rows = [[(b.label, b.payload) for b in row] for row in chunk.keyboard]
        answer, pressed = example.answer, example.press
        pressed = _as_on_keyboard(pressed, rows)
        keys = {block.key for block in answer.blocks} if answer is not None else set()
        placed = next((p for p in chunk.placed if p.key in keys), None)
        if answer is not None and placed is not None:
            text = html.unescape(re.sub(r"<[^>]+>", "", html_text))
            edit = edit_after_press(text, html_text, rows, pressed, answer, placed)
            if edit is not None:
                html_text, rows = edit.html, edit.keyboard
        shown.append((html_text, [[label for label, _ in row] for row in rows]))
    if reply.image is not None:
        shown.append((f"[photo] {reply.image.title}", []))
    for follow_up in example.thread:  # each a reply to the first message
        shown += [(REPLY_MARK + chunk.html, []) for chunk in render(follow_up)]
    return shown


def _as_on_keyboard(pressed: str, rows: list[list[tuple[str, str]]]) -> str:
    """A verdict pressed where the keyboard shows the finding's *Feedback* button: that
    button was pressed first (it drew the verdicts in its place), so its row is the one
    the answer redraws."""
    payloads = {payload for row in rows for _, payload in row}
    opener = pressed.rsplit(":", 1)[0] + f":{OPEN_CODE}"
    return opener if pressed and pressed not in payloads and opener in payloads else pressed


def terminal_text(example: Example) -> str:
    reply = example.reply
    if example.answer is not None:
        reply = example.answer
    follow_ups = ["\n↳ " + render_text(r)[0].replace("\n", "\n  ") for r in example.thread]
    return render_text(reply)[0] + "".join(follow_ups)


def collect(world: World) -> list[Example]:
    examples: list[Example] = []
    for name in EXAMPLE_MODULES:
        module = importlib.import_module(name)
        examples += module.examples(world)
    for example in examples:
        assert example.group in GROUPS, f"{example.name}: unknown group {example.group!r}"
    return [
        Example(**{**e.__dict__, "reply": steady(e.reply),
                   "answer": steady(e.answer) if e.answer else None,
                   "telegram": steady(e.telegram) if e.telegram else None})
        if e.measured else e
        for e in examples
    ]  # fmt: skip


def chart_name(example: Example) -> str | None:
    """The file name of the chart the example's message carries, if it carries one."""
    return f"{example.name}-chart.png" if example.reply.image is not None else None


def pages(example: Example) -> dict[str, str]:
    """The HTML page of each platform's image, by image file name."""
    return {
        f"{example.name}-slack.png": slack_page(slack_messages(example)),
        f"{example.name}-telegram.png": telegram_page(telegram_messages(example)),
    }


def page_text(examples: list[Example]) -> str:
    lines = [HEAD]
    for group in GROUPS:
        members = [e for e in examples if e.group == group]
        if not members:
            continue
        lines.append(f"\n## {group}\n")
        for example in members:
            drawn = pages(example)
            slack, telegram = drawn
            lines += [
                f"### {example.title}\n",
                f"{example.about}\n",
                "| Slack | Telegram |",
                "| --- | --- |",
                f"| ![{example.title} in Slack](messages/images/{slack}) "
                f"| ![{example.title} in Telegram](messages/images/{telegram}) |\n",
            ]
            chart = chart_name(example)
            if chart:
                image = f"![{example.title}: the chart](messages/images/{chart})"
                lines.append(f"Its chart, the image that follows it:\n\n{image}\n")
            lines += [
                "<details><summary>In the terminal</summary>\n",
                "```text",
                terminal_text(example),
                "```\n",
                "</details>\n",
                f"<!-- images: {' '.join(f'{n}={_digest(p)}' for n, p in drawn.items())} -->\n",
            ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _drawn_digests(text: str) -> dict[str, str]:
    return dict(re.findall(r"([\w.-]+\.png)=([0-9a-f]{16})", text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is up to date")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        world = World(Path(scratch))
        try:
            examples = collect(world)
        finally:
            world.close()
    text = page_text(examples)
    old = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if args.check:
        wanted = [*_drawn_digests(text), *filter(None, map(chart_name, examples))]
        missing = [name for name in wanted if not (IMAGES / name).exists()]
        if text != old or missing:
            print("docs/messages.md is out of date: run python docs/messages/generate.py")
            return 1
        return 0
    browser = chromium()
    if browser is None:
        print("headless Chromium is needed to draw the images (apt-get install chromium)")
        return 2
    IMAGES.mkdir(parents=True, exist_ok=True)
    before = _drawn_digests(old)
    wanted: set[str] = set()
    for example in examples:
        for name, html_page in pages(example).items():
            wanted.add(name)
            if before.get(name) != _digest(html_page) or not (IMAGES / name).exists():
                screenshot(html_page, IMAGES / name, browser)
                print(f"drew {name}")
    for example in examples:
        chart = chart_name(example)
        if chart and example.reply.image is not None:
            (IMAGES / chart).write_bytes(example.reply.image.png)
            wanted.add(chart)
    for stale in IMAGES.glob("*.png"):
        if stale.name not in wanted:
            stale.unlink()
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
