"""Benchmark the review cache and the delta savings on a real repository.

    python bench/review_cache.py [REPO_PATH] [--commits N] [--runs N]

1. Median wall time of a cache-hit `recorded_review` (the review and its run row, as
   chat asks for one) against the median time of one `git rev-parse HEAD` process
   (target: ratio <= 3).
2. The last N commits one by one, oldest first: the prompt tokens the `llm` reviewer
   would send for each delta against those of a full review of the same commit, both
   planned by the same prompt builder with the same skip rules
   (`jobs.review.llm.sizing.delta_and_full_tokens`; no model is called; target: median
   reduction >= 90%).
   --walk each (default): each of the last N non-merge commits, reviewed from its
   own parent — what a review after every commit sees.
   --walk first-parent: the branch's own line, each commit a delta from the one
   before — a merge brings its whole branch at once, so a young, merge-heavy
   history saves less.

Uses a temporary SQLite database and the lint reviewer for the cache hits; the
repository is only read.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobs.config.schema import Config
from jobs.context import Context
from jobs.review.llm.sizing import delta_and_full_tokens
from jobs.review.run_record import recorded_review
from storage import migrate
from storage.db import make_engine

HIT_RATIO_TARGET = 3.0
REDUCTION_TARGET = 90.0


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", nargs="?", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--commits", type=int, default=20, help="commits to review one by one")
    parser.add_argument("--runs", type=int, default=50, help="timed runs of each kind")
    parser.add_argument(
        "--walk", choices=["each", "first-parent"], default="each",
        help="which commits: the branch's own line, or every non-merge commit",
    )  # fmt: skip
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    git = ["git", "-C", str(repo)]
    walk = ["--first-parent"] if args.walk == "first-parent" else ["--no-merges"]
    shas = subprocess.run(
        [*git, "rev-list", *walk, f"--max-count={args.commits + 1}", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.split()[::-1]  # fmt: skip
    if len(shas) < args.commits + 1:
        print(f"note: {repo} has only {len(shas)} such commits; using {len(shas) - 1} deltas")
    with tempfile.TemporaryDirectory(prefix="opsdesk-bench-") as tmp:
        data_dir = Path(tmp)
        engine = make_engine(f"sqlite:///{data_dir / 'bench.db'}")
        migrate.upgrade(engine)

        def config_at(ref: str, name: str = "bench") -> Config:
            return Config.model_validate(
                {"repos": [{"name": name, "path": str(repo), "branch": ref}]}
            )

        # Deltas: each commit from the one before it (its parent with --walk each).
        print(f"prompt tokens of {len(shas) - 1} deltas of {repo} ({args.walk}) vs full reviews")
        reductions: list[float] = []
        sizing_times: list[float] = []
        for previous, sha in itertools.pairwise(shas):
            base = f"{sha}^" if args.walk == "each" else previous
            started = time.perf_counter()
            delta, full = delta_and_full_tokens(repo, base, sha)
            sizing_times.append(time.perf_counter() - started)
            reduction = 100.0 * (1 - delta / full) if full else 0.0
            reductions.append(reduction)
            print(
                f"  {sha[:8]} delta {delta:>8,} tokens, full review {full:>8,} "
                f"→ {reduction:5.1f}% saved"
            )

        # Cache hits on HEAD (the last commit reviewed above).
        context = Context(config_at("HEAD"), engine, data_dir, "bench", runner_id="bench")
        recorded_review(context, "bench")  # a miss if new
        hit = recorded_review(context, "bench")
        assert hit.cache_hit, "HEAD was just reviewed; this must be a cache hit"
        hit_times, git_times = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            recorded_review(context, "bench")
            hit_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, check=True)
            git_times.append(time.perf_counter() - started)
        engine.dispose()

    hit_ms, git_ms = median_ms(hit_times), median_ms(git_times)
    ratio = hit_ms / git_ms
    median_reduction = statistics.median(reductions) if reductions else 0.0
    print()
    if sizing_times:
        print(
            f"planning a delta and a full review's prompts (what an llm review adds to find "
            f"full_tree_tokens): median {median_ms(sizing_times):.0f} ms"
        )
    print(f"cache hit: median {hit_ms:.2f} ms over {args.runs} runs")
    print(f"git rev-parse HEAD: median {git_ms:.2f} ms over {args.runs} runs")
    ok_ratio = ratio <= HIT_RATIO_TARGET
    ok_tokens = median_reduction >= REDUCTION_TARGET
    if not reductions:
        print("no delta to measure: the repository has a single commit")
    print(f"ratio {ratio:.2f} (target <= {HIT_RATIO_TARGET:g}): {'ok' if ok_ratio else 'MISSED'}")
    print(
        f"median delta prompt reduction {median_reduction:.1f}% over {len(reductions)} commits "
        f"(target >= {REDUCTION_TARGET:g}%): {'ok' if ok_tokens else 'MISSED'}"
    )
    return 0 if ok_ratio and ok_tokens else 1


if __name__ == "__main__":
    sys.exit(main())
