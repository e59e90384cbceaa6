"""A small world for the examples: real git repositories with commits at fixed times, a
migrated SQLite database, and opsdesk's own router over them, at a fixed clock. Every
message on the page is made by the code that makes it in production."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handlers.access import Caller
from handlers.catalog import build_router
from handlers.router import Router
from jobs.config.schema import Config
from jobs.context import Context
from jobs.core.reply import Block, Reply, ReplyField, Span
from storage import migrate
from storage.db import make_engine

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
DANA = Caller("slack", "U0DANA", "C0TEAM", name="Dana")
LEE = Caller("slack", "U0LEE", "C0TEAM", name="Lee")


@dataclass(frozen=True)
class Example:
    """One message as the page shows it. `press` (a button's payload) and `answer`
    (what the press answered) show the message after the press, as the adapters redraw
    it; `telegram` is the message on Telegram when it differs (its own caller);
    `thread` the posts that answer it in its thread."""

    name: str  # file names: <name>-slack.png, <name>-telegram.png
    group: str  # the page's section
    title: str
    about: str  # when it is sent, in one line
    reply: Reply
    press: str = ""
    answer: Reply | None = None
    telegram: Reply | None = None
    thread: tuple[Reply, ...] = ()  # replies in the message's thread, in order
    # Durations measured as it ran, shown as one steady figure; False: durations the
    # example's own run rows and clock fix.
    measured: bool = True


class GitRepo:
    """A work tree whose commits have fixed authors and times (so fixed hashes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tick = 0
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        stamp = f"2026-12-0{1 + self._tick // 10}T0{self._tick % 10}:00:00Z"
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(self.path),
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
            "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.org",
            "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp,
        }  # fmt: skip
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], capture_output=True, text=True, env=env,
            check=True,
        )  # fmt: skip
        return done.stdout.strip()

    def commit(self, message: str, files: dict[str, str | None]) -> str:
        """Write (or, for None, delete) files and commit them."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        self._tick += 1
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@dataclass
class World:
    root: Path
    contexts: list[Context] = field(default_factory=list)
    now: datetime = NOW  # the clock of every context; examples move it

    def __post_init__(self) -> None:
        self.started = self.root / "started"  # left by a job's command as it starts
        self.engine = make_engine(f"sqlite:///{self.root / 'opsdesk.db'}")
        migrate.upgrade(self.engine)

    def repo(self, name: str, remote: str | None = None) -> GitRepo:
        made = GitRepo(self.root / "repos" / name)
        if remote:
            made.git("remote", "add", "origin", remote)
        return made

    def router(self, config: dict[str, Any]) -> Router:
        context = Context(
            config=Config.model_validate(config),
            engine=self.engine,
            data_dir=self.root / "data",
            config_source="docs",
            clock=lambda: self.now,
        )
        self.contexts.append(context)
        return build_router(context)

    def close(self) -> None:
        self.engine.dispose()


# Durations differ from run to run: the page shows each as one steady figure.
_DURATION = re.compile(r"\b\d[\d,]*(?:\.\d+)? ?(ms|s)\b")


def _steady_text(text: str) -> str:
    return _DURATION.sub(lambda m: "0.3 s" if m[1] == "s" else "300 ms", text)


def steady(reply: Reply) -> Reply:
    """The reply with its measured durations replaced by one figure."""

    def block(b: Block) -> Block:
        if b.spans:
            spans = [s.model_copy(update={"text": _steady_text(s.text)}) for s in b.spans]
            return Block(spans=spans, buttons=b.buttons, key=b.key, opener=b.opener)
        return b.model_copy(update={"text": _steady_text(b.text)})

    return reply.model_copy(
        update={
            "title": _steady_text(reply.title),
            "blocks": [block(b) for b in reply.blocks],
            "fields": [
                ReplyField(label=f.label, value=_steady_text(f.value)) for f in reply.fields
            ],
            "note": _steady_text(reply.note),
        }
    )


__all__ = ["DANA", "LEE", "NOW", "Example", "GitRepo", "Span", "World", "steady"]
