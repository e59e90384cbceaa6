"""`opsdesk console`: a chat in the terminal on the same handlers.

Each Reply is printed as text with numbered buttons; typing a number presses that
button. A button keeps its number for the whole session: the same button (the same
finding and verdict) always shows the same number, in the reply that first showed it,
in the updated finding after a press and in later replies, and new buttons get new
numbers. So a press never renumbers anything, and a number from an older reply still
does what its label said. Works interactively (line editing and history through
readline) and with piped input.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.render_text import render_text
from handlers.access import CONSOLE_CALLER
from handlers.router import Router
from jobs.core.reply import Button, Reply

PROMPT = "opsdesk> "
GREETING = (
    "opsdesk console — /help lists the commands, a number presses a button, "
    "Ctrl-C clears the line, /quit or Ctrl-D leaves."
)


class Console:
    def __init__(self, router: Router, out: TextIO, image_dir: Path) -> None:
        self.router = router
        self.out = out
        self.image_dir = image_dir
        self.numbers: dict[str, int] = {}  # button payload → its number, for the session
        self.by_number: dict[int, Button] = {}

    def say(self, line: str) -> Reply | None:
        """Handle one line typed by the user; returns the reply it printed, if any."""
        line = line.strip()
        if not line:
            return None
        if line.isdigit():
            button = self.by_number.get(int(line))
            if button is None:
                shown = (
                    f"buttons so far are 1-{len(self.by_number)}"
                    if self.by_number
                    else ("no reply has shown buttons yet")
                )
                self.out.write(f"There is no button {line}; {shown}.\n")
                return None
            reply = self.router.press(CONSOLE_CALLER, button.payload)
        else:
            command = line if line.startswith("/") else "/" + line
            reply = self.router.handle(CONSOLE_CALLER, command)
        self.show(reply)
        return reply

    def show(self, reply: Reply) -> None:
        image_path = None
        if reply.image is not None:
            self.image_dir.mkdir(parents=True, exist_ok=True)
            target = self.image_dir / reply.image.filename
            target.write_bytes(reply.image.png)
            image_path = str(target)
        text, _ = render_text(reply, image_path, number_of=self._number)
        self.out.write(text + "\n\n")
        self.out.flush()

    def _number(self, button: Button) -> int:
        """The button's number: the one it had before, else the next unused one."""
        number = self.numbers.get(button.payload)
        if number is None:
            number = self.numbers[button.payload] = len(self.numbers) + 1
        self.by_number[number] = button  # the newest label for that payload
        return number


def run_console(router: Router, image_dir: Path, history: Path | None = None) -> int:
    """Read commands until end of input or /quit; exit code 0."""
    console = Console(router, sys.stdout, image_dir)
    interactive = sys.stdin.isatty()
    if interactive:
        _enable_line_editing(history)
        print(GREETING)
    for line in _lines(interactive):
        if line.strip().lower() in ("/quit", "/exit", "quit", "exit"):
            break
        console.say(line)
    if interactive and history is not None:
        _save_history(history)
    return 0


def _lines(interactive: bool) -> Iterable[str]:
    if not interactive:
        yield from sys.stdin
        return
    while True:
        try:
            yield input(PROMPT)
        except KeyboardInterrupt:
            print()  # Ctrl-C drops the line being typed, as in a shell
        except EOFError:
            print()  # Ctrl-D leaves
            return


def _enable_line_editing(history: Path | None) -> None:
    try:
        import readline
    except ImportError:  # Windows: plain input() still works
        return
    if history is not None and history.exists():
        readline.read_history_file(history)
    readline.set_history_length(1000)


def _save_history(history: Path) -> None:
    try:
        import readline

        history.parent.mkdir(parents=True, exist_ok=True)
        readline.write_history_file(history)
    except (ImportError, OSError):
        pass
