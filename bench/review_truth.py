"""Replay a real repository's history as nightly lint reviews and check the truth.

    python bench/review_truth.py REPO [--commits N]

REPO is any git repository (a work tree or a bare clone); it is only read. The last N
first-parent commits are reviewed oldest first, one per "night", through the real
engine (a full review of the first, then deltas), each followed by a second review of
the same HEAD, which must be a cache hit. At the end it prints:

- the open findings against `ruff check .` run in a `git clone` with the reviewed
  commit checked out, at HEAD and every K nights (extra: opsdesk shows, ruff does
  not; missing: the reverse), target extra 0 and missing 0;
- the cache-hit rate of the second reviews;
- the median delta-versus-full prompt tokens, planned and counted as the `llm`
  reviewer would send them (`jobs.review.llm.sizing.delta_and_full_tokens`: its prompt
  builder, skip rules and splitting; no model is called);
- the scratch checkout's cost: a first checkout of HEAD and the median reused one.

Uses a temporary SQLite database and data directory. Exits 1 when extra or missing
is not 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from jobs.config.schema import Config
from jobs.context import Context
from jobs.review.checkout import check_out
from jobs.review.engine import ReviewResult, run_review
from jobs.review.lint.linters import ruff_command
from jobs.review.llm.sizing import delta_and_full_tokens
from jobs.review.targets import ReviewFailed
from storage import migrate
from storage.db import make_engine

Key = tuple[str, int, str, str]
EXAMPLES = 5


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def ruff_in_a_clone(repo: Path, sha: str, tmp: Path) -> Counter[Key] | None:
    """`ruff check .` in a git clone of REPO with `sha` checked out (and nothing else);
    None when ruff itself fails there (e.g. a config key this ruff no longer knows)."""
    clone = tmp / "oracle"
    if not clone.exists():
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(repo), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "--force", sha], check=True)
    subprocess.run(["git", "-C", str(clone), "clean", "-q", "-f", "-d", "-x"], check=True)
    home = tmp / "oracle-home"
    home.mkdir(exist_ok=True)
    # --no-fix: a repository may set `fix = true` (flask does); ruff would then rewrite
    # the clone and report only what it could not fix, not what the commit holds.
    command = [*ruff_command(), "check", ".", "--output-format", "json", "--no-cache", "--no-fix"]
    result = subprocess.run(
        [*command, "--exit-zero"],
        cwd=clone, capture_output=True, text=True,
        env={"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home)},
    )  # fmt: skip
    if result.returncode != 0:
        return None
    root = clone.resolve()
    return Counter(
        (
            Path(item["filename"]).resolve().relative_to(root).as_posix(),
            int(item["location"]["row"]),
            item["code"] or "invalid-syntax",
            item["message"],
        )
        for item in json.loads(result.stdout)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", help="a git repository (work tree or bare); only read")
    parser.add_argument("--commits", type=int, default=150, help="nights to replay")
    parser.add_argument(
        "--check-every", type=int, default=25, help="also compare with ruff every K nights"
    )
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    shas = git(repo, "rev-list", "--first-parent", f"--max-count={args.commits}", "HEAD").split()
    shas.reverse()
    print(f"replaying {len(shas)} first-parent commits of {repo} as nightly lint reviews")
    with tempfile.TemporaryDirectory(prefix="opsdesk-truth-") as tmp_text:
        tmp = Path(tmp_text)
        data_dir = tmp / "data"
        engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
        migrate.upgrade(engine)
        kinds: Counter[str] = Counter()
        hits = checks = 0
        savings: list[float] = []
        review_ms: list[float] = []
        result: ReviewResult | None = None
        failed = failed_agreed = 0
        extra: Counter[Key] = Counter()
        missing: Counter[Key] = Counter()
        compared: list[int] = []  # oracle sizes at the checked nights
        shown: Counter[Key] = Counter()
        oracle: Counter[Key] = Counter()
        for night, sha in enumerate(shas):
            config = Config.model_validate(
                {"repos": [{"name": "bench", "path": str(repo), "branch": sha}]}
            )
            context = Context(config, engine, data_dir, "bench", runner_id="bench")
            started = time.perf_counter()
            try:
                result = run_review(context, "bench")
            except ReviewFailed as exc:
                # ruff cannot run at this commit; a developer's ruff must fail there too.
                failed += 1
                agreed = ruff_in_a_clone(repo, sha, tmp) is None
                failed_agreed += agreed
                print(f"  night {night + 1:>4} {sha[:8]} failed: {exc.reason} "
                      f"(ruff in a clone fails too: {'yes' if agreed else 'NO'})")  # fmt: skip
                continue
            review_ms.append((time.perf_counter() - started) * 1000)
            kinds[result.kind] += 1
            again = run_review(context, "bench")
            checks += 1
            hits += again.cache_hit
            if result.kind == "delta" and result.base_sha:
                delta, full = delta_and_full_tokens(repo, result.base_sha, sha)
                savings.append(100.0 * (1 - delta / full) if full else 0.0)
            if night % args.check_every == 0 or night == len(shas) - 1:
                shown = Counter((f.path, f.line, f.category, f.message) for f in result.shown)
                found = ruff_in_a_clone(repo, sha, tmp)
                oracle = Counter() if found is None else found
                if found is None:
                    print(f"  night {night + 1:>4} {sha[:8]}: ruff fails in a clone, opsdesk not")
                extra += shown - oracle
                missing += oracle - shown
                compared.append(sum(oracle.values()))
                print(
                    f"  night {night + 1:>4} {sha[:8]} {result.kind:5} new {result.new_count:>3} "
                    f"open {result.open_count:>4} fixed {result.fixed_count:>3} "
                    f"({review_ms[-1]:.0f} ms); ruff in a clone: {sum(oracle.values())}, "
                    f"extra {sum((shown - oracle).values())}, "
                    f"missing {sum((oracle - shown).values())}"
                )
        assert result is not None
        head = shas[-1]

        first_started = time.perf_counter()
        check_out(repo, head, tmp / "fresh-scratch")
        first_ms = (time.perf_counter() - first_started) * 1000
        reused: list[float] = []
        scratch = tmp / "reused-scratch"
        check_out(repo, shas[0], scratch)
        for sha in shas[1:]:
            started = time.perf_counter()
            check_out(repo, sha, scratch)
            reused.append((time.perf_counter() - started) * 1000)
        files = len(git(repo, "ls-tree", "-r", "--name-only", head).splitlines())
        engine.dispose()

    print()
    print(f"repository: {repo} at {head[:12]} ({files} files); reviews: {dict(kinds)}")
    if failed:
        print(f"failed reviews (ruff cannot run at that commit): {failed}, "
              f"ruff in a clone fails too: {failed_agreed}")  # fmt: skip
    print(f"open findings at the last night checked: {sum(shown.values())}; ruff in a "
          f"clone of that commit: {sum(oracle.values())}")  # fmt: skip
    print(
        f"extra {sum(extra.values())}, missing {sum(missing.values())} over {len(compared)} "
        f"checked nights (ruff found {sum(compared)} findings in all)"
    )
    for label, diff in (("extra", extra), ("missing", missing)):
        for key in list(diff)[:EXAMPLES]:
            print(f"  {label}: {key[0]}:{key[1]} {key[2]} {key[3]}")
    print(f"cache hits on a second review of the same HEAD: {hits}/{checks} "
          f"({100.0 * hits / max(checks, 1):.0f}%)")  # fmt: skip
    if savings:
        print(
            f"median delta vs full-tree prompt tokens: {statistics.median(savings):.1f}% saved "
            f"over {len(savings)} deltas"
        )
    print(f"review (miss) median {statistics.median(review_ms):.0f} ms")
    reused_text = f"{statistics.median(reused):.0f} ms" if reused else "n/a"
    print(f"checkout: first {first_ms:.0f} ms, reused median {reused_text}")
    return 0 if not extra and not missing and failed == failed_agreed else 1


if __name__ == "__main__":
    sys.exit(main())
