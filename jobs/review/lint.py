"""The built-in reviewer: ruff on the changed Python files, zero tokens, offline.

Files are materialised from git objects at the reviewed commit (never read from
the work tree, which may hold other, uncommitted content), together with the
repository's ruff configuration files at that commit. Only findings on added
lines are kept — the reviewdog rule: a change is judged by what it adds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import Any

from jobs.config import LintReviewerConfig
from jobs.review.finding import Finding, Severity
from jobs.review.git import GitError, read_blobs
from jobs.review.reviewers import ReviewerError, ReviewerOutput, ReviewInput, reviewer_fingerprint

PYTHON_SUFFIXES = (".py", ".pyi")
RUFF_CONFIG_NAMES = (".ruff.toml", "ruff.toml", "pyproject.toml")
# Rules whose findings are real breakage rather than taste.
ERROR_PREFIXES = ("E9", "F63", "F7", "F82", "invalid-syntax")
RUFF_TIMEOUT_S = 120.0
UNLIMITED_TOKENS = 10**12


def ruff_command() -> list[str]:
    try:
        from ruff.__main__ import find_ruff_bin

        return [str(find_ruff_bin())]
    except (ImportError, FileNotFoundError):
        return [sys.executable, "-m", "ruff"]


def _config_paths(paths: list[str]) -> list[str]:
    """Every ruff config file name in every directory above a changed file."""
    dirs: set[PurePosixPath] = set()
    for path in paths:
        dirs.update(PurePosixPath(path).parents)
    return [str(d / name) if str(d) != "." else name for d in dirs for name in RUFF_CONFIG_NAMES]


def _has_root_ruff_config(blobs: dict[str, bytes]) -> bool:
    if ".ruff.toml" in blobs or "ruff.toml" in blobs:
        return True
    return b"[tool.ruff" in blobs.get("pyproject.toml", b"")


def _severity(code: str) -> Severity:
    return "error" if code.startswith(ERROR_PREFIXES) else "warning"


class LintReviewer:
    kind = "lint"

    def __init__(self, config: LintReviewerConfig | None = None) -> None:
        self.config = config or LintReviewerConfig()

    def fingerprint(self) -> str:
        options = {
            "ruff": version("ruff"),
            "select": sorted(self.config.select),
            "ignore": sorted(self.config.ignore),
        }
        return reviewer_fingerprint(self.kind, None, options)

    def budget_tokens(self) -> int:
        return UNLIMITED_TOKENS  # a linter reads whole files, not a prompt

    def review(self, review_input: ReviewInput) -> ReviewerOutput:
        paths = [f.path for f in review_input.files if f.path.endswith(PYTHON_SUFFIXES)]
        if not paths:
            return ReviewerOutput()
        try:
            blobs = read_blobs(
                review_input.repo, review_input.head_sha, paths + _config_paths(paths)
            )
        except GitError as exc:
            raise ReviewerError(
                f"cannot read files at {review_input.head_sha[:12]}: {exc}"
            ) from exc
        with tempfile.TemporaryDirectory(prefix="opsdesk-lint-") as tmp:
            root = Path(tmp).resolve()
            for relpath, content in blobs.items():
                target = root / relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            if not _has_root_ruff_config(blobs):
                # Stops ruff's upward search, so no config above the temp dir leaks in.
                (root / "ruff.toml").write_text("")
            present = [p for p in paths if p in blobs]
            diagnostics = self._run_ruff(root, present)
        findings: list[Finding] = []
        for item in diagnostics:
            finding = self._to_finding(root, item)
            if finding and finding.line in review_input.added_lines.get(finding.path, ()):
                findings.append(finding)
        findings.sort(key=lambda f: (f.path, f.line, f.category))
        return ReviewerOutput(findings=findings)

    def _run_ruff(self, root: Path, paths: list[str]) -> list[dict[str, Any]]:
        command = [
            *ruff_command(),
            *("check", "--output-format", "json", "--no-cache", "--no-fix", "--exit-zero"),
        ]
        if self.config.select:
            command += ["--select", ",".join(self.config.select)]
        if self.config.ignore:
            command += ["--ignore", ",".join(self.config.ignore)]
        try:
            result = subprocess.run(
                [*command, "--", *paths],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=RUFF_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise ReviewerError(f"ruff timed out after {RUFF_TIMEOUT_S:g}s") from exc
        if result.returncode != 0:
            detail = result.stderr.strip().splitlines()
            raise ReviewerError(f"ruff failed: {detail[0] if detail else result.returncode}")
        try:
            parsed: list[dict[str, Any]] = json.loads(result.stdout or "[]")
        except json.JSONDecodeError as exc:
            raise ReviewerError("ruff printed output that is not JSON") from exc
        return parsed

    @staticmethod
    def _to_finding(root: Path, item: dict[str, Any]) -> Finding | None:
        try:
            path = Path(item["filename"]).resolve().relative_to(root).as_posix()
            code = item.get("code") or "invalid-syntax"
            line = int(item["location"]["row"])
            end = int((item.get("end_location") or {}).get("row") or line)
        except (KeyError, TypeError, ValueError):
            return None
        fix = item.get("fix") or {}
        return Finding(
            path=path,
            line=max(line, 1),
            end_line=end if end > line else None,
            severity=_severity(code),
            category=code,
            message=str(item.get("message") or code),
            suggestion=fix.get("message") or None,
            source=f"ruff:{code}",
        )
