"""The truth a user can check: what the real linters say in a fresh `git clone` of the
repository's HEAD, run as a developer would run them there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from jobs.review.finding import display_path
from jobs.review.lint.linters import ruff_command
from tests.support.git_repo import Repo

Key = tuple[str, int, str, str]  # path, line, category, message


def fresh_clone(work: Repo, tmp_path: Path) -> Path:
    clone = tmp_path / f"oracle-{work.git('rev-parse', '--short', 'HEAD')}"
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(work.path), str(clone)], check=True)
    return clone


def oracle_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "oracle-home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ["PATH"], "HOME": str(home)}


def ruff_in(clone: Path, tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`ruff check .` in `clone`, its JSON on stdout (exit 2 and a reason when ruff fails)."""
    return subprocess.run(
        [*ruff_command(), "check", ".", "--output-format", "json", "--no-cache", "--no-fix",
         "--exit-zero", *options],
        cwd=clone, capture_output=True, text=True, env=oracle_env(tmp_path),
    )  # fmt: skip


def ruff_in_a_clone(work: Repo, tmp_path: Path) -> list[dict[str, Any]]:
    """What `ruff check .` says in a fresh clone of HEAD (its JSON), each item's
    filename made relative to the clone."""
    clone = fresh_clone(work, tmp_path)
    result = ruff_in(clone, tmp_path)
    assert result.returncode == 0, result.stderr
    items: list[dict[str, Any]] = json.loads(result.stdout)
    for item in items:
        item["filename"] = Path(item["filename"]).resolve().relative_to(clone.resolve()).as_posix()
    return items


def ruff_oracle(work: Repo, tmp_path: Path) -> Counter[Key]:
    """`ruff check .` in a fresh clone of HEAD."""
    return Counter(
        (item["filename"], item["location"]["row"], item["code"], item["message"])
        for item in ruff_in_a_clone(work, tmp_path)
    )


def shellcheck_program() -> str:
    return shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")


def shellcheck_oracle(work: Repo, tmp_path: Path) -> Counter[Key]:
    """`shellcheck` on every shell script of a fresh clone of HEAD, in one call (its
    own JSON)."""
    clone = fresh_clone(work, tmp_path)
    scripts = sorted(p.relative_to(clone).as_posix() for p in clone.rglob("*.sh"))
    result = subprocess.run(
        [shellcheck_program(), "--format=json1", *scripts], cwd=clone, capture_output=True,
        env=oracle_env(tmp_path),
    )  # fmt: skip
    # A name's bytes that are not UTF-8 come back as UTF-8-encoded surrogate escapes.
    report = json.loads(result.stdout.decode("utf-8", "surrogatepass"))
    return Counter(
        (display_path(c["file"]), c["line"], f"SC{c['code']}", c["message"])
        for c in report["comments"]
    )
