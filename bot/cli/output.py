"""What the command writes: stdout and stderr scrubbed of secrets, failures as one
message and an exit code."""

from __future__ import annotations

import io
import os
import sys
from typing import TYPE_CHECKING, TextIO

from jobs.core.scrub import scrub

if TYPE_CHECKING:
    from jobs.config.loading import ConfigError


def config_problems(exc: ConfigError) -> str:
    if len(exc.problems) == 1:
        return f"{exc.source}: invalid configuration: {exc.problems[0]}"
    return "\n".join([f"{exc.source}: invalid configuration"] + [f"  {p}" for p in exc.problems])


def fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


class ScrubbingStream(io.TextIOBase):
    """stdout/stderr with every configured secret redacted from what is written."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    # input() hands the terminal to readline (line editing, history, Ctrl-C clearing
    # the line) only when stdout reports the terminal's encoding.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.stream.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.stream.errors


def discard_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
