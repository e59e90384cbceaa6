"""Fit a diff into a token budget, and measure what a full-tree review would cost.

Token counts come from `jobs.review.tokens` (a conservative estimate calibrated per
model). The model reviewer splits what does not fit one call itself (jobs.review.llm.split);
the full-tree baseline is counted by jobs.review.llm.sizing with the same prompt builder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from jobs.review.diff import FileDiff, file_skip_reason
from jobs.review.tokens import estimate_tokens

OVER_BUDGET = "over token budget"
# Why a model reviewer could not review a file (ReviewerOutput.not_reviewed).
HUNK_TOO_LARGE = "hunk larger than the model's context"
CUT_SHORT = "answer cut short"
# A call failed (timeout, HTTP error, an answer without JSON) after others had
# succeeded: what they reviewed is kept, the rest waits for the next review.
CALL_FAILED = "model call failed"
# Reasons that may not hold on a second try of the same commit: a review listing
# such a file is not reused from the cache, so the model is asked again.
RETRY_REASONS = frozenset({CUT_SHORT, CALL_FAILED})
# Reasons a file counts as not reviewed and is carried to the next review.
NOT_REVIEWED_REASONS = frozenset({HUNK_TOO_LARGE, CUT_SHORT, CALL_FAILED})

_SUFFIXES_OF = {
    "python": ".py .pyi",
    "javascript": ".js .jsx .mjs",
    "typescript": ".ts .tsx",
    "go": ".go",
    "rust": ".rs",
    "java": ".java",
    "kotlin": ".kt",
    "ruby": ".rb",
    "php": ".php",
    "c": ".c .h",
    "cpp": ".cc .cpp .hpp",
    "csharp": ".cs",
    "swift": ".swift",
    "scala": ".scala",
    "shell": ".sh .bash",
    "sql": ".sql",
    "lua": ".lua",
    "elixir": ".ex .exs",
    "dart": ".dart",
}
LANGUAGES = {suffix: lang for lang, suffixes in _SUFFIXES_OF.items() for suffix in suffixes.split()}


def language_of(path: str) -> str:
    """The language by file extension; "other" for config, docs and unknown files."""
    return LANGUAGES.get(PurePosixPath(path).suffix.lower(), "other")


def render_file(file: FileDiff) -> str:
    """A file's hunks as the reviewer sees them: every kept line prefixed with its
    new-file line number, added lines marked "+", removed ones "-" with no number."""
    title = (
        file.path if file.old_path in (None, file.path) else f"{file.path} (was {file.old_path})"
    )
    out = [f"### {title} [{file.status}]"]
    for hunk in file.hunks:
        out.append(f"@@ lines {hunk.new_start}-{hunk.new_end} @@")
        for line in hunk.lines:
            number = "" if line.new_line is None else str(line.new_line)
            out.append(f"{line.kind}{number:>5} | {line.text}")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str  # "lock file", "generated", … or OVER_BUDGET


@dataclass(frozen=True)
class PackedDiff:
    """The files that fit, in review order, and every changed file that was left out."""

    files: tuple[FileDiff, ...]
    skipped: tuple[SkippedFile, ...]
    tokens: int  # estimated tokens of the rendered files
    budget_tokens: int
    rendered: Mapping[str, str] = field(default_factory=dict)  # path → render_file text
    file_tokens: Mapping[str, int] = field(default_factory=dict)  # path → its estimate

    @property
    def added_lines(self) -> dict[str, frozenset[int]]:
        return {f.path: f.added_lines for f in self.files}


def pack_files(
    files: list[FileDiff],
    budget_tokens: int,
    skip: Callable[[FileDiff], str | None] = file_skip_reason,
) -> PackedDiff:
    """Choose the files to review within `budget_tokens`. Files with nothing added
    (deleted, pure renames, deletion-only changes) have nothing to review and are left
    out; files matching a skip rule or not fitting are listed in `skipped`, never
    dropped silently. Order: by language (known languages first), then size."""
    candidates: list[tuple[FileDiff, str]] = []
    skipped: list[SkippedFile] = []
    for file in files:
        if file.status == "deleted" or (not file.hunks and not file.is_binary):
            continue
        reason = skip(file)
        if reason is not None:
            skipped.append(SkippedFile(file.path, reason))
        else:
            candidates.append((file, render_file(file)))

    def order(item: tuple[FileDiff, str]) -> tuple[bool, str, int, str]:
        lang = language_of(item[0].path)
        return (lang == "other", lang, len(item[1]), item[0].path)

    chosen: list[FileDiff] = []
    rendered: dict[str, str] = {}
    file_tokens: dict[str, int] = {}
    used = 0
    for file, text in sorted(candidates, key=order):
        cost = estimate_tokens(text)
        if used + cost <= budget_tokens:
            chosen.append(file)
            rendered[file.path] = text
            file_tokens[file.path] = cost
            used += cost
        else:
            skipped.append(SkippedFile(file.path, OVER_BUDGET))
    return PackedDiff(tuple(chosen), tuple(skipped), used, budget_tokens, rendered, file_tokens)
