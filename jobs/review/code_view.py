"""What leads from a finding in chat to its code: the link to its line on the code host
at the reviewed commit, and a few lines of that code, read from the commit itself.

Read when a reply is made (a review, `/findings`, a press): the snippet is the code
as it stands at the commit the reply speaks of, never a copy that could drift. Reading
is bounded (files up to a megabyte, a few lines each, a few dozen findings, git's own
deadline) and quiet: a finding whose code cannot be read is shown without it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from jobs.context import Context
from jobs.review import git
from jobs.review.code_links import WebRepo, web_repo
from jobs.review.objects import MB, read_files
from jobs.review.scratch import clone_dir
from jobs.review.targets import LOCAL_PREFIX

MAX_SNIPPET_LINES = 3
MAX_SNIPPET_LINE = 120  # characters, a phone's width twice over
MAX_FILE_BYTES = 1 * MB
MAX_FINDINGS = 60  # snippets read for one reply at most


class Located(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def path(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def end_line(self) -> int | None: ...
    @property
    def cell(self) -> int | None: ...


@dataclass(frozen=True)
class CodeView:
    """A reply's findings' way to their code: links at `commit`, and their snippets."""

    web: WebRepo | None = None
    commit: str | None = None
    snippets: Mapping[int, str] = field(default_factory=dict)

    def url(self, finding: Located) -> str | None:
        if self.web is None or not self.commit or "\ufffd" in finding.path:
            return None  # a name that is not UTF-8 has no address the host would know
        if finding.cell is not None:
            return self.web.file_url(self.commit, finding.path)
        return self.web.line_url(self.commit, finding.path, finding.line, finding.end_line)

    def snippet(self, finding: Located) -> str:
        return self.snippets.get(finding.id or 0, "")


NO_VIEW = CodeView()


def repo_web(context: Context, repo: str) -> WebRepo | None:
    """The repository's web home: `web_url`, else its remote, else (a local
    repository) its `origin` remote; None when none is known."""
    configured = context.config.repo(repo)
    if configured is not None:
        remote = configured.url or _origin(Path(configured.path or "").expanduser())
        return web_repo(remote, configured.web_url, configured.code_host)
    if repo.startswith(LOCAL_PREFIX):
        return web_repo(_origin(Path(repo.removeprefix(LOCAL_PREFIX))))
    return None


def _origin(path: Path) -> str | None:
    if not str(path) or not path.is_dir():
        return None
    try:
        result = git.run_git(path, "config", "--get", "remote.origin.url", check=False)
    except git.GitError:
        return None
    return result.stdout.decode("utf-8", "replace").strip() or None


def _git_dir(context: Context, repo: str) -> Path | None:
    configured = context.config.repo(repo)
    if configured is not None:
        if configured.url is not None:
            return clone_dir(context.data_dir, configured.name)
        return Path(configured.path or "").expanduser()
    if repo.startswith(LOCAL_PREFIX):
        return Path(repo.removeprefix(LOCAL_PREFIX))
    return None


def code_view(
    context: Context, repo: str, commit: str | None, findings: Iterable[Located]
) -> CodeView:
    """Links and snippets for `findings` of `repo` at `commit`."""
    if not commit:
        return NO_VIEW
    wanted = [f for f in findings if f.id is not None and f.cell is None][:MAX_FINDINGS]
    return CodeView(repo_web(context, repo), commit, _snippets(context, repo, commit, wanted))


def _snippets(context: Context, repo: str, commit: str, findings: list[Located]) -> dict[int, str]:
    where = _git_dir(context, repo)
    if not findings or where is None or not where.is_dir():
        return {}
    try:
        files = read_files(where, commit, {f.path for f in findings}, MAX_FILE_BYTES)
    except (git.GitError, OSError, ValueError):
        return {}
    snippets = {}
    for finding in findings:
        content = files.get(finding.path)
        if content is not None and finding.id is not None:
            text = snippet_of(content, finding.line, finding.end_line)
            if text:
                snippets[finding.id] = text
    return snippets


def snippet_of(content: bytes, line: int, end_line: int | None = None) -> str:
    """Lines `line`..`end_line` (three at most) of a file, dedented, each cut to a
    phone's width; empty when the file has no such line."""
    lines = content.decode("utf-8", "replace").splitlines()
    last = min(end_line or line, line + MAX_SNIPPET_LINES - 1)
    picked = lines[line - 1 : last]
    if not picked or not any(text.strip() for text in picked):
        return ""
    shown = textwrap.dedent("\n".join(text.rstrip() for text in picked)).splitlines()
    return "\n".join(
        text if len(text) <= MAX_SNIPPET_LINE else text[: MAX_SNIPPET_LINE - 1] + "…"
        for text in shown
    )
