"""Parse `git diff` output into files and hunks with new-file line numbers, and
decide which files are not worth a review (lock files, generated, vendored …)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

FileStatus = Literal["added", "modified", "deleted", "renamed"]
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


@dataclass(frozen=True)
class DiffLine:
    kind: Literal["+", "-", " "]
    text: str
    new_line: int | None  # None for removed lines


@dataclass(frozen=True)
class Hunk:
    new_start: int
    new_len: int
    lines: tuple[DiffLine, ...]

    @property
    def added(self) -> frozenset[int]:
        """New-file line numbers of the lines this hunk adds."""
        return frozenset(ln.new_line for ln in self.lines if ln.kind == "+" and ln.new_line)

    @property
    def new_end(self) -> int:
        return self.new_start + max(self.new_len, 1) - 1


@dataclass(frozen=True)
class FileDiff:
    path: str  # the path at the new commit (the old one for a deleted file)
    old_path: str | None  # None for an added file
    status: FileStatus
    is_binary: bool = False
    hunks: tuple[Hunk, ...] = field(default_factory=tuple)

    @property
    def added_lines(self) -> frozenset[int]:
        return frozenset().union(*(h.added for h in self.hunks))

    def contains_line(self, line: int) -> bool:
        """True when `line` (new file) lies inside one of the hunks."""
        return any(h.new_start <= line <= h.new_end for h in self.hunks)

    def head_sample(self) -> bytes | None:
        """The file's first lines when a hunk starts at line 1 (enough to see a
        "generated" header), else None."""
        if self.hunks and self.hunks[0].new_start == 1:
            lines = [ln.text for ln in self.hunks[0].lines if ln.kind != "-"]
            return "\n".join(lines).encode("utf-8")
        return None


def _unquote(raw: str) -> str:
    """Undo git's C-style quoting of unusual paths ("a/tab\\tx.txt")."""
    raw = raw.rstrip("\t")  # git ends a name with a space in it by a tab
    if not (raw.startswith('"') and raw.endswith('"')):
        return raw
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567":
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt)))
            i += 2
            continue
        out += char.encode("utf-8")
        i += 1
    return out.decode("utf-8", "replace")


def _strip_prefix(path: str) -> str | None:
    path = _unquote(path)
    if path == "/dev/null":
        return None
    return path[2:] if path[:2] in ("a/", "b/") else path


def _git_line_paths(line: str) -> tuple[str, str]:
    # "diff --git a/x b/x": ambiguous with spaces, used only when nothing better exists.
    rest = line.removeprefix("diff --git ")
    if rest.startswith('"'):
        end = rest.index('"', 1)
        while rest[end - 1] == "\\":
            end = rest.index('"', end + 1)
        old, new = rest[: end + 1], rest[end + 2 :]
    else:
        half = len(rest) // 2
        old, new = rest[:half], rest[half + 1 :]
    return _strip_prefix(old) or "", _strip_prefix(new) or ""


class _FileBuilder:
    def __init__(self, header: str) -> None:
        self.old, self.new = _git_line_paths(header)
        self.status: FileStatus = "modified"
        self.is_binary = False
        self.hunks: list[Hunk] = []
        self.lines: list[DiffLine] = []
        self.hunk_start = self.hunk_len = 0
        self.next_new = 0

    def close_hunk(self) -> None:
        if any(ln.kind == "+" for ln in self.lines):  # deletion-only hunks are dropped
            self.hunks.append(Hunk(self.hunk_start, self.hunk_len, tuple(self.lines)))
        self.lines = []

    def build(self) -> FileDiff:
        self.close_hunk()
        if self.status == "added":
            return FileDiff(self.new, None, "added", self.is_binary, tuple(self.hunks))
        if self.status == "deleted":
            return FileDiff(self.old, self.old, "deleted", self.is_binary, ())
        return FileDiff(self.new, self.old, self.status, self.is_binary, tuple(self.hunks))


def parse_diff(text: str) -> list[FileDiff]:
    """Files of a unified `git diff`, in diff order."""
    files: list[FileDiff] = []
    current: _FileBuilder | None = None
    in_hunk = False
    for line in text.splitlines():
        if line.startswith("diff --git "):
            if current:
                files.append(current.build())
            current, in_hunk = _FileBuilder(line), False
            continue
        if current is None:
            continue
        if in_hunk and (line[:1] in ("+", "-", " ", "\\") or line == ""):
            if line.startswith("\\"):
                continue  # "\ No newline at end of file"
            if line.startswith("-"):
                current.lines.append(DiffLine("-", line[1:], None))
            else:
                kind: Literal["+", " "] = "+" if line.startswith("+") else " "
                current.lines.append(DiffLine(kind, line[1:], current.next_new))
                current.next_new += 1
            continue
        match = _HUNK.match(line)
        if match:
            current.close_hunk()
            in_hunk = True
            current.hunk_start = int(match[3])
            current.hunk_len = 1 if match[4] is None else int(match[4])
            current.next_new = current.hunk_start
        elif line.startswith("new file mode"):
            current.status = "added"
        elif line.startswith("deleted file mode"):
            current.status = "deleted"
        elif line.startswith("rename from "):
            current.status, current.old = "renamed", _unquote(line[12:])
        elif line.startswith("rename to "):
            current.new = _unquote(line[10:])
        elif line.startswith("--- "):
            current.old = _strip_prefix(line[4:]) or current.old
        elif line.startswith("+++ "):
            current.new = _strip_prefix(line[4:]) or current.new
        elif line.startswith("Binary files ") or line == "GIT binary patch":
            current.is_binary = True
    if current:
        files.append(current.build())
    return files


LOCK_FILES = frozenset(
    [
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "poetry.lock",
        "uv.lock",
        "Pipfile.lock",
        "pdm.lock",
        "Cargo.lock",
        "Gemfile.lock",
        "go.sum",
        "composer.lock",
        "mix.lock",
        "pubspec.lock",
        "Package.resolved",
        "flake.lock",
        "packages.lock.json",
    ]
)
VENDOR_DIRS = frozenset({"vendor", "third_party", "thirdparty", "node_modules", "_vendor"})
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", ".pb.go", ".pb.cc", ".pb.h")
# A header that says the file is generated ("@generated", "DO NOT EDIT", "This file is
# autogenerated", "Auto-generated by protoc") — not one that merely uses the word, as
# Sphinx's docs/conf.py does ("present in this autogenerated file").
GENERATED_HEADER = re.compile(
    rb"@generated|do not edit|(?:file|code) (?:is|was) (?:auto-?)?generated"
    rb"|(?:auto-?)?generated (?:by|from|with|using)\b"
)
MINIFIED_LINE_CHARS = 1000
_BINARY_KINDS = {
    "image": ".png .jpg .jpeg .gif .webp .ico .bmp",
    "document": ".pdf",
    "archive": ".zip .gz .tgz .bz2 .xz .7z .tar .jar .whl",
    "compiled": ".so .dylib .dll .exe .o .a .class .pyc",
    "font": ".woff .woff2 .ttf .otf .eot",
    "media": ".mp3 .mp4 .mov",
    "database": ".sqlite .db",
}
BINARY_SUFFIXES = tuple(suffix for kind in _BINARY_KINDS.values() for suffix in kind.split())


# Every reason skip_reason gives: a file these rules leave out is never reviewed.
SKIP_REASONS = frozenset({"vendored", "lock file", "binary", "minified", "generated"})


def skip_reason(path: str, content_sample: bytes | None = None) -> str | None:
    """Why a file should not be reviewed, or None. `content_sample` is the start of
    the file's content when known (the first few KB are plenty)."""
    parts = path.split("/")
    name = parts[-1]
    if any(part in VENDOR_DIRS for part in parts[:-1]):
        return "vendored"
    if name in LOCK_FILES:
        return "lock file"
    if name.lower().endswith(BINARY_SUFFIXES) or (
        content_sample is not None and b"\0" in content_sample[:8192]
    ):
        return "binary"
    if re.search(r"[.-]min\.(js|css|mjs)$", name):
        return "minified"
    if name.endswith(GENERATED_SUFFIXES):
        return "generated"
    if content_sample is not None:
        head = b"\n".join(content_sample[:4096].splitlines()[:10]).lower()
        if GENERATED_HEADER.search(head):
            return "generated"
        if any(len(line) > MINIFIED_LINE_CHARS for line in content_sample.splitlines()):
            return "minified"
    return None


def file_skip_reason(file: FileDiff) -> str | None:
    """skip_reason for a parsed file, using what the diff itself shows."""
    if file.is_binary:
        return "binary"
    sample = file.head_sample()
    if sample is None:
        long_line = any(len(ln.text) > MINIFIED_LINE_CHARS for h in file.hunks for ln in h.lines)
        sample = b"x" * (MINIFIED_LINE_CHARS + 1) if long_line else None
    return skip_reason(file.path, sample)
