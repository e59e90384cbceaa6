"""The scratch checkout's cost on a large repository: first checkout against reused.

    python bench/checkout.py [--files 10000] [--commits 20]

Makes a repository of FILES small Python files in a temporary directory, then
commits that each change a few files. Prints the time of a first checkout of HEAD
(empty scratch space) and the median time of a reused one (the scratch holding the
previous commit, as on each night), plus a full `ruff check .` of the tree for scale.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobs.review.checkout import check_out
from jobs.review.lint.linters import ruff_command

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.test",
    "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.test",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}  # fmt: skip


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
        env={**os.environ, **GIT_ENV},
    ).stdout.strip()  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opsdesk-checkout-bench-") as tmp_text:
        tmp = Path(tmp_text)
        repo = tmp / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        for index in range(args.files):
            path = repo / f"pkg{index % 100:02d}" / f"mod{index}.py"
            path.parent.mkdir(exist_ok=True)
            path.write_text(f"def f{index}(x):\n    return x + {index}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "many files")
        shas = [git(repo, "rev-parse", "HEAD")]
        for night in range(args.commits):
            for index in range(night, args.files, args.files // 5):
                (repo / f"pkg{index % 100:02d}" / f"mod{index}.py").write_text(f"X = {night}\n")
            git(repo, "commit", "-q", "-am", f"night {night}")
            shas.append(git(repo, "rev-parse", "HEAD"))

        started = time.perf_counter()
        checkout = check_out(repo, shas[-1], tmp / "first")
        first_ms = (time.perf_counter() - started) * 1000
        scratch = tmp / "reused"
        check_out(repo, shas[0], scratch)
        reused = []
        for sha in shas[1:]:
            started = time.perf_counter()
            check_out(repo, sha, scratch)
            reused.append((time.perf_counter() - started) * 1000)
        (checkout.root / "ruff.toml").write_text("")
        started = time.perf_counter()
        subprocess.run(
            [*ruff_command(), "check", ".", "--no-cache", "--exit-zero", "--quiet"],
            cwd=checkout.root, capture_output=True, check=True,
        )  # fmt: skip
        ruff_ms = (time.perf_counter() - started) * 1000
    print(f"{args.files} files, {args.commits} commits of 5 changed files each")
    print(f"first checkout of HEAD: {first_ms:.0f} ms")
    print(f"reused checkout, next commit: median {statistics.median(reused):.0f} ms")
    print(f"ruff check . on the whole tree: {ruff_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
