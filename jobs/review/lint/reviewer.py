"""The built-in reviewer: the configured linters on a full checkout of the commit.

The truth a user can check: a review's findings are what `ruff check .` (and each
further linter) reports in a fresh checkout of the reviewed commit, with the
repository's own configuration. So every review lints the whole tree of the commit
in opsdesk's scratch checkout (`checkout.check_out`, reused between reviews), never
copies of changed files, and never filters by changed lines: what a change causes
elsewhere (an import's only use removed, a config change) is found where it shows.
The engine compares the result with the base review's (`baseline`).

Files no configured linter covers are listed as not reviewed, with the reason.
"""

from __future__ import annotations

import tempfile
import tomllib
from pathlib import Path, PurePosixPath

from jobs.config.schema import LintReviewerConfig
from jobs.core.text import plural
from jobs.review import lfs
from jobs.review.budget import SkippedFile
from jobs.review.checkout import Checkout, check_out
from jobs.review.diff import skip_reason
from jobs.review.finding import Finding, display_path
from jobs.review.git import GitError
from jobs.review.lint.linters import RUFF_FILES, covers, run_linter, run_ruff
from jobs.review.lint.names import INDISTINCT_NAME, ReportedNames
from jobs.review.lint.versions import linter_versions
from jobs.review.reviewers import ReviewerError, ReviewerOutput, ReviewInput, reviewer_fingerprint

UNLIMITED_TOKENS = 10**12
ROOT_RUFF_CONFIGS = (".ruff.toml", "ruff.toml")
SAMPLE_BYTES = 8192
NO_LINTER = "no linter for"


def not_covered_reason(path: str, root: Path | None = None) -> str:
    """Why no linter looked at a file: a skip rule's reason (from its path, then the
    start of its content under `root`), or `no linter for *.ts`."""
    rule = skip_reason(path)
    if rule is None and root is not None:
        rule = _content_reason(path, root / path)
    if rule is not None:
        return rule
    suffix = PurePosixPath(path).suffix
    return f"{NO_LINTER} *{suffix}" if suffix else f"{NO_LINTER} {PurePosixPath(path).name}"


def _has_root_ruff_config(root: Path) -> bool:
    """Whether ruff takes its configuration from the checkout's root: a ruff.toml, or a
    pyproject.toml it must read — one with a [tool.ruff] table, or one it cannot parse
    (invalid TOML, merge-conflict markers), on which ruff fails with its reason. An
    empty ruff.toml written beside that would take precedence and lint with defaults."""
    if any((root / name).is_file() for name in ROOT_RUFF_CONFIGS):
        return True
    try:
        with (root / "pyproject.toml").open("rb") as handle:
            tool = tomllib.load(handle).get("tool")
    except tomllib.TOMLDecodeError:
        return True
    except OSError:
        return False
    # A `tool` that is not a table is a pyproject.toml ruff cannot read either.
    return tool is not None and (not isinstance(tool, dict) or "ruff" in tool)


class LintReviewer:
    kind = "lint"

    def __init__(self, config: LintReviewerConfig | None = None) -> None:
        self.config = config or LintReviewerConfig()

    def fingerprint(self) -> str:
        options = {
            "versions": linter_versions(self.config),
            "select": sorted(self.config.select),
            "ignore": sorted(self.config.ignore),
            "linters": [linter.model_dump() for linter in self.config.linters],
        }
        return reviewer_fingerprint(self.kind, None, options)

    def budget_tokens(self) -> int:
        return UNLIMITED_TOKENS  # a linter reads whole files, not a prompt

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        if review_input.checkout is not None:
            return self._review_in(review_input, review_input.checkout)
        with tempfile.TemporaryDirectory(prefix="opsdesk-checkout-") as scratch:
            return self._review_in(review_input, Path(scratch))

    def _review_in(self, review_input: ReviewInput, scratch: Path) -> ReviewerOutput:
        try:
            checkout = check_out(review_input.repo, review_input.head_sha, scratch)
        except GitError as exc:
            raise ReviewerError(f"cannot check out {review_input.head_sha[:12]}: {exc}") from exc
        # Files in git LFS as a clone with git-lfs has them, or listed with the reason.
        pointers = lfs.materialise(review_input.repo, checkout, self.covers)
        names = ReportedNames(checkout.files, pointers)
        findings, elsewhere = names.of_commit(self.lint(checkout))
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

    def lint(self, checkout: Checkout) -> list[Finding]:
        """Every configured linter on the whole checkout, as the linters report."""
        root = checkout.root
        if not _has_root_ruff_config(root):
            # Exactly ruff's behaviour without a config, but its upward search for one
            # stops here instead of finding whatever lies above opsdesk's data dir.
            (root / "ruff.toml").write_text("")
        findings = run_ruff(root, self.config.select, self.config.ignore)
        for linter in self.config.linters:
            files = sorted(p for p in checkout.files if covers(linter.files, p))
            if files:
                findings += run_linter(linter, root, files)
        return findings

    def covers(self, path: str) -> bool:
        """Whether some configured linter reads the file."""
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
            if not self.covers(path):
                reason = not_covered_reason(path, checkout.root)
            elif path in names.indistinct:
                reason = INDISTINCT_NAME
            elif path in pointers:
                reason = pointers[path]
            else:
                continue
            not_reviewed.append(SkippedFile(display_path(path), reason))
        return len(checkout.files) - len(not_reviewed), not_reviewed


# What the start of a file's content says, by the file as it is on disk: the reused
# checkout rewrites only the files a commit changed, so the thousands of files no
# linter covers (docs, assets) are read once, not every night.
_CONTENT_REASONS: dict[tuple[str, int, int, int], str | None] = {}
MAX_REMEMBERED = 100_000


def _content_reason(path: str, file: Path) -> str | None:
    try:
        stat = file.stat()
    except OSError:
        return None  # a symlink to nowhere, a submodule
    key = (str(file), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _CONTENT_REASONS:
        if len(_CONTENT_REASONS) >= MAX_REMEMBERED:
            _CONTENT_REASONS.clear()
        _CONTENT_REASONS[key] = skip_reason(path, _sample(file))
    return _CONTENT_REASONS[key]


def _sample(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            return handle.read(SAMPLE_BYTES)
    except OSError:
        return None  # a symlink to nowhere, a submodule
