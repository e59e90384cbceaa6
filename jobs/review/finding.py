"""One shape for every finding, whatever reviewer produced it (the reviewdog habit)."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["error", "warning", "info"]


class Finding(BaseModel):
    """A problem at a place in the reviewed commit. `path` is repo-relative (posix);
    `source` names the producer, e.g. "ruff:F401" or "llm:qwen2.5-coder:7b"."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(min_length=1)
    line: int = Field(ge=1)
    # In a notebook, the cell `line` counts in (as ruff reports it); None elsewhere.
    cell: int | None = Field(default=None, ge=1)
    end_line: int | None = Field(default=None, ge=1)
    column: int | None = Field(default=None, ge=1)  # 1-based, where the linter says
    severity: Severity
    category: str = Field(min_length=1)
    message: str = Field(min_length=1)
    suggestion: str | None = None
    source: str
    # The rule's name ("undefined-name") and its documentation, as the linter gives
    # them (ruff's JSON `name`/`url`, SARIF's rule `name`/`helpUri`); http(s) only.
    rule_name: str | None = Field(default=None, max_length=100)
    rule_url: str | None = Field(default=None, max_length=500)


# "line 12", "lines 3-4", "L12", "12:5", ":12", "col 5" — positions that change when code moves.
_POSITIONS = re.compile(
    r"\b(?:lines?|l|col(?:umn)?)\s*\d+(?:\s*[-\u2013]\s*\d+)?\b"
    r"|\d+:\d+(?::\d+)?"
    r"|:\d+\b",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def normalize_message(message: str) -> str:
    """Lowercase, drop line/column positions, collapse whitespace. Cached: a large
    repository repeats a few thousand messages tens of thousands of times."""
    text = _POSITIONS.sub(" ", message.lower())
    return _SPACE.sub(" ", text).strip()


def finding_identity(path: str, category: str, message: str) -> str:
    """path | category | normalized message: what makes two findings the same problem."""
    return f"{path}|{category}|{normalize_message(message)}"


def finding_fingerprint(finding: Finding, ordinal: int = 0) -> str:
    """sha256 hex of path | category | normalized message. No line number, so the same
    problem keeps its fingerprint when the code around it moves. `ordinal` counts
    identical findings in one file (0 for the first by line, 1 for the next …), so two
    of them stay two."""
    return identity_fingerprint(
        finding_identity(finding.path, finding.category, finding.message), ordinal
    )


def identity_fingerprint(identity: str, ordinal: int = 0) -> str:
    key = identity if ordinal == 0 else f"{identity}#{ordinal}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_path(path: str) -> str:
    """A path as findings are stored and shown: bytes of a name that are not UTF-8 (kept
    as surrogate escapes where the file must be opened) become U+FFFD, as ruff writes
    them and git's diff shows them."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return path


def location(path: str, line: int, cell: int | None = None) -> str:
    """Where a finding is, as ruff writes it: "app.py:12", in a notebook
    "nb.ipynb:cell 3:12" (the line counted within the cell)."""
    return f"{path}:cell {cell}:{line}" if cell is not None else f"{path}:{line}"
