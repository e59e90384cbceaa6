"""The built-in reviewer: the configured linters on a full checkout of the commit.

The truth a user can check: a review's findings are what `ruff check .` (and each
further linter) reports in a fresh checkout of the reviewed commit, with the
repository's own configuration. So every review lints the whole tree of the commit
in opsdesk's scratch checkout (`checkout.check_out`, reused between reviews), never
copies of changed files, and never filters by changed lines: what a change causes
elsewhere (an import's only use removed, a config change) is found where it shows.
The engine compares the result with the base review's (`baseline`). A linter
declared `per_file` runs only on the files whose kept result no longer applies
(jobs.review.lint.per_file): the same findings, without linting unchanged files.

Files no configured linter covers are listed as not reviewed, with the reason.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from pathlib import Path, PurePosixPath

from jobs.config.schema import LintReviewerConfig
from jobs.core.text import plural
from jobs.review import lfs
from jobs.review.budget import SkippedFile
from jobs.review.checkout import DEFAULT_MAX_FILE_BYTES as MAX_FILE_BYTES
from jobs.review.checkout import Checkout, check_out, read_checkout_file
from jobs.review.diff import skip_reason
from jobs.review.finding import Finding, display_path
from jobs.review.git import GitError
from jobs.review.lint.configs import check_ruff_configs, check_shellcheck, is_shellcheck
from jobs.review.lint.linters import REPORT_MAPPING, RUFF_FILES, covers, run_linter, run_ruff
from jobs.review.lint.names import INDISTINCT_NAME, ReportedNames
from jobs.review.lint.per_file import lint_changed
from jobs.review.lint.results_cache import RESULTS_FILE, ResultCache
from jobs.review.lint.versions import linter_versions
from jobs.review.reviewers import ReviewerError, ReviewerOutput, ReviewInput, reviewer_fingerprint

UNLIMITED_TOKENS = 10**12
ROOT_RUFF_CONFIGS = (".ruff.toml", "ruff.toml")
SAMPLE_BYTES = 8192
NO_LINTER = "no linter for"


def not_covered_reason(path: str, checkout: Checkout | None = None) -> str:
    """Why no linter looked at a file: a skip rule's reason (from its path, then the
    start of its content in the checkout), or `no linter for *.ts`."""
    rule = skip_reason(path)
    if rule is None and checkout is not None:
        rule = _content_reason(path, checkout)
    if rule is not None:
        return rule
    suffix = PurePosixPath(path).suffix
    return f"{NO_LINTER} *{suffix}" if suffix else f"{NO_LINTER} {PurePosixPath(path).name}"


def _has_root_ruff_config(checkout: Checkout) -> bool:
    """Whether ruff takes its configuration from the checkout's root: a ruff.toml, or a
    pyproject.toml it must read — one with a [tool.ruff] table, or one it cannot parse
    (invalid TOML, merge-conflict markers), on which ruff fails with its reason. An
    empty ruff.toml written beside that would take precedence and lint with defaults."""
    if any(name in checkout.files for name in ROOT_RUFF_CONFIGS):
        return True
    content = read_checkout_file(checkout, "pyproject.toml")
    if content is None:
        return False
    try:
        tool = tomllib.loads(content.decode("utf-8")).get("tool")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return True
    # A `tool` that is not a table is a pyproject.toml ruff cannot read either.
    return tool is not None and (not isinstance(tool, dict) or "ruff" in tool)


def _write_placeholder(root: Path) -> None:
    """An empty ruff.toml at the root: exactly ruff's behaviour without a config, but
    its upward search for one stops here instead of finding whatever lies above
    opsdesk's data dir. Never written through a link or over anything."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with contextlib.suppress(FileExistsError):
        os.close(os.open(root / "ruff.toml", flags, 0o644))


class LintReviewer:
    kind = "lint"

    def __init__(
        self, config: LintReviewerConfig | None = None, max_file_bytes: int = MAX_FILE_BYTES
    ) -> None:
        self.config = config or LintReviewerConfig()
        self.max_file_bytes = max_file_bytes

    def fingerprint(self) -> str:
        options = {
            "versions": linter_versions(self.config),
            "select": sorted(self.config.select),
            "ignore": sorted(self.config.ignore),
            # Keeping results per file changes no finding: not part of the review's identity.
            "linters": [linter.model_dump(exclude={"per_file"}) for linter in self.config.linters],
            # How reports become findings (severities, rule names and links): a review
            # made under another mapping is made again rather than replayed.
            "mapping": REPORT_MAPPING,
        }
        if self.config.paths:  # only when scoped: unscoped fingerprints stay as they were
            options["paths"] = sorted(self.config.paths)
        return reviewer_fingerprint(self.kind, None, options)

    def budget_tokens(self) -> int:
        return UNLIMITED_TOKENS  # a linter reads whole files, not a prompt

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        if review_input.checkout is not None:
            return self._review_in(review_input, review_input.checkout)
        with tempfile.TemporaryDirectory(prefix="opsdesk-checkout-") as scratch:
            return self._review_in(review_input, Path(scratch))

    def _review_in(self, review_input: ReviewInput, scratch: Path) -> ReviewerOutput:
        # Per-file results are kept beside the repository's reused checkout only.
        kept = ResultCache(scratch / RESULTS_FILE) if review_input.checkout is not None else None
        try:
            checkout = check_out(
                review_input.repo, review_input.head_sha, scratch, self.max_file_bytes
            )
        except GitError as exc:
            raise ReviewerError(f"cannot check out {review_input.head_sha[:12]}: {exc}") from exc
        # Files in git LFS as a clone with git-lfs has them, or listed with the reason.
        pointers = lfs.materialise(review_input.repo, checkout, self.covers)
        names = ReportedNames(checkout.files, pointers)
        findings, elsewhere = names.of_commit(self.lint(checkout, kept))
        findings.sort(key=lambda f: (f.path, f.cell or 0, f.line, f.category))
        covered, not_reviewed = self.coverage(checkout, names, pointers)
        notes = [f"{plural(elsewhere, 'finding')} named no file of the commit"] if elsewhere else []
        return ReviewerOutput(
            findings=findings,
            not_reviewed=not_reviewed,
            whole_tree=True,
            reviewed_files=covered,
            notes=notes,
        )

    def lint(self, checkout: Checkout, kept: ResultCache | None = None) -> list[Finding]:
        """Every configured linter on the whole checkout, as the linters report (a
        `per_file` linter on the files `kept` holds no result for)."""
        root = checkout.root
        check_ruff_configs(checkout)
        if not _has_root_ruff_config(checkout):
            _write_placeholder(root)
        paths = self.config.paths
        findings: list[Finding] = []
        present = [p for p in paths if _in_checkout(checkout, p)]
        if present or not paths:
            findings = run_ruff(root, self.config.select, self.config.ignore, present)
        for linter in self.config.linters:
            files = sorted(
                p for p in checkout.files if covers(linter.files, p) and self.in_scope(p)
            )
            if files and is_shellcheck(linter.command):
                check_shellcheck(checkout, linter.command, files)
            if files and kept is not None and linter.per_file is not None:
                version = linter_versions(self.config)[linter.name]
                findings += lint_changed(linter, checkout, files, kept, version)
            elif files:
                findings += run_linter(linter, root, files)
        return findings

    def in_scope(self, path: str) -> bool:
        """Whether the file is in the lint paths (every file when there are none)."""
        paths = self.config.paths
        return not paths or any(path == p or path.startswith(f"{p}/") for p in paths)

    def covers(self, path: str) -> bool:
        """Whether some configured linter reads the file."""
        if not self.in_scope(path):
            return False
        globs = [RUFF_FILES, *(tuple(linter.files) for linter in self.config.linters)]
        return any(covers(g, path) for g in globs)

    def coverage(
        self, checkout: Checkout, names: ReportedNames, pointers: dict[str, str]
    ) -> tuple[int, list[SkippedFile]]:
        """How many files some linter reviewed, and the others with the reason (under
        their readable names): no linter covers them, a report cannot name them, or
        they stayed LFS pointers."""
        not_reviewed: list[SkippedFile] = []
        for path in sorted(checkout.files):
            if not self.in_scope(path):
                reason = f"{NO_LINTER} it: outside the lint paths ({', '.join(self.config.paths)})"
            elif not self.covers(path):
                reason = not_covered_reason(path, checkout)
            elif path in names.indistinct:
                reason = INDISTINCT_NAME
            elif path in pointers:
                reason = pointers[path]
            else:
                continue
            not_reviewed.append(SkippedFile(display_path(path), reason))
        covered = len(checkout.files) - len(not_reviewed)
        not_checked_out = [SkippedFile(display_path(p), reason) for p, reason in checkout.skipped]
        return covered, sorted([*not_reviewed, *not_checked_out], key=lambda s: s.path)


def _in_checkout(checkout: Checkout, path: str) -> bool:
    """A lint path that names a file or a directory of the checkout."""
    return path in checkout.files or any(f.startswith(f"{path}/") for f in checkout.files)


# What the start of a file's content says, by the file as it is on disk: the reused
# checkout rewrites only the files a commit changed, so the thousands of files no
# linter covers (docs, assets) are read once, not every night.
_CONTENT_REASONS: dict[tuple[str, int, int, int], str | None] = {}
MAX_REMEMBERED = 100_000


def _content_reason(path: str, checkout: Checkout) -> str | None:
    try:
        stat = os.stat(checkout.root / path, follow_symlinks=False)
    except OSError:
        return None  # not in the checkout (a link, a submodule: listed as such)
    key = (str(checkout.root / path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _CONTENT_REASONS:
        if len(_CONTENT_REASONS) >= MAX_REMEMBERED:
            _CONTENT_REASONS.clear()
        _CONTENT_REASONS[key] = skip_reason(path, read_checkout_file(checkout, path, SAMPLE_BYTES))
    return _CONTENT_REASONS[key]
