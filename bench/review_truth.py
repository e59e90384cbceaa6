"""Replay a real repository's history as nightly lint reviews and check the truth.

    python bench/review_truth.py REPO [--commits N] [--check-every K] [--select ALL]
                                 [--linter shellcheck] [--whole-tree] [--rewind]
    python bench/review_truth.py REPO --branch [--push] [--commits N] [--select ALL]

REPO is any git repository (a work tree or a bare clone); it is only read. The last N
first-parent commits are reviewed oldest first, one per "night", through the real
engine (a full review of the first, then deltas); each HEAD is then reviewed once
more, which must be a cache hit. Every K nights (every night by default) the open
findings are compared with each linter run in a `git clone` with that commit checked
out, as a developer runs it: `ruff check . --no-fix` (with `--select`/`--ignore` as
given to opsdesk), and each `--linter` preset on the files it covers, all in one
call. Both the review and its cache hit, and what `/findings` lists, must equal the
linter: extra (opsdesk shows, the linter does not) and missing (the reverse) are
printed per linter and night, target 0 and 0. `--rewind` then resets to the middle
night's commit: the review must be a cache hit and `/findings` that commit's truth.

A linter preset that keeps results per file (shellcheck's `per_file`) lints only the
files without a kept result; `--whole-tree` turns that off, so every night lints the
whole tree, as before. Printed: the median seconds of a delta night (one first-parent
commit) beside the full first night's.

Also printed: the cache-hit rate, the median delta-versus-full prompt tokens as the
`llm` reviewer would send them (`jobs.review.llm.sizing.delta_and_full_tokens`; no
model is called), the median review time and the scratch checkout's cost.

`--branch` replays the last N first-parent merges (merged pull requests) as branch
reviews instead, against the linter's difference (bench/branch_truth.py).

Uses a temporary SQLite database and data directory. Exits 1 when extra or missing
is not 0, a second review is not a cache hit, or a failed review is not a failure of
the linter itself.
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

from jobs.config.reviewers import LINTER_PRESETS
from jobs.config.schema import Config, LinterConfig
from jobs.context import Context
from jobs.review.checkout import check_out
from jobs.review.engine import ReviewResult
from jobs.review.finding import display_path
from jobs.review.history import open_findings
from jobs.review.lint.linters import covers, ruff_command
from jobs.review.llm.sizing import delta_and_full_tokens
from jobs.review.run_record import recorded_review
from jobs.review.targets import ReviewFailed
from storage import migrate
from storage.db import make_engine

Key = tuple[str, int, str, str]  # path, line, rule, message
EXAMPLES = 5


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


class Oracle:
    """The linters as a developer runs them in a clone of REPO at a commit."""

    def __init__(self, repo: Path, tmp: Path, options: argparse.Namespace) -> None:
        self.clone, self.home = tmp / "oracle", tmp / "oracle-home"
        self.home.mkdir()
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(repo), str(self.clone)],
                       check=True)  # fmt: skip
        self.ruff_rules = [f"--select={','.join(options.select)}"] if options.select else []
        self.ruff_rules += [f"--ignore={','.join(options.ignore)}"] if options.ignore else []
        self.linters = [LinterConfig(name=name, preset=name) for name in options.linter]

    def run(self, command: list[str]) -> subprocess.CompletedProcess[bytes]:
        env = {"PATH": f"{os.environ.get('PATH', os.defpath)}:{Path(sys.executable).parent}",
               "HOME": str(self.home)}  # fmt: skip
        return subprocess.run(command, cwd=self.clone, capture_output=True, env=env)

    def at(self, sha: str) -> dict[str, Counter[Key]] | None:
        """Each linter's findings at `sha` by linter name; None when ruff fails there."""
        subprocess.run(["git", "-C", str(self.clone), "checkout", "-q", "--force", sha], check=True)
        subprocess.run(["git", "-C", str(self.clone), "clean", "-q", "-f", "-d", "-x"], check=True)
        # --no-fix: a repository may set `fix = true`; ruff would then rewrite the clone
        # and report only what it could not fix, not what the commit holds.
        ruff = self.run([*ruff_command(), "check", ".", "--output-format", "json", "--no-cache",
                         "--no-fix", "--exit-zero", *self.ruff_rules])  # fmt: skip
        if ruff.returncode != 0:
            return None
        root = self.clone.resolve()
        found = {"ruff": Counter(
            (Path(i["filename"]).resolve().relative_to(root).as_posix(), int(i["location"]["row"]),
             i["code"] or "invalid-syntax", i["message"])
            for i in json.loads(ruff.stdout)
        )}  # fmt: skip
        files = git(self.clone, "ls-files", "-z").split("\0")
        for linter in self.linters:
            covered = sorted(f"./{f}" for f in files if f and covers(linter.files, f))
            found[linter.name] = self.shellcheck(covered) if covered else Counter()
        return found

    def shellcheck(self, files: list[str]) -> Counter[Key]:
        said = self.run(["shellcheck", "--format=json1", *files]).stdout
        comments = json.loads(said.decode("utf-8", "surrogatepass"))["comments"]
        return Counter(
            (display_path(c["file"].removeprefix("./")), c["line"], f"SC{c['code']}", c["message"])
            for c in comments
        )


def by_linter(pairs: list[tuple[str, Key]]) -> dict[str, Counter[Key]]:
    out: dict[str, Counter[Key]] = {}
    for linter, key in pairs:
        out.setdefault(linter, Counter())[key] += 1
    return out


def shown_by_linter(result: ReviewResult) -> dict[str, Counter[Key]]:
    return by_linter([(f.source.split(":", 1)[0], (f.path, f.line, f.category, f.message))
                      for f in result.shown])  # fmt: skip


def listed_by_linter(context: Context) -> dict[str, Counter[Key]]:
    """What /findings lists, by linter."""
    return by_linter([(f.source.split(":", 1)[0], (f.path, f.line, f.category, f.message))
                      for f in open_findings(context.engine, "bench")])  # fmt: skip


class Tally:
    def __init__(self) -> None:
        self.extra: dict[str, Counter[Key]] = {}
        self.missing: dict[str, Counter[Key]] = {}
        self.checked = 0
        self.worst: dict[str, int] = Counter()

    def compare(self, truth: dict[str, Counter[Key]], *views: dict[str, Counter[Key]]) -> str:
        """Every view (the review, its cache hit, /findings) against each linter."""
        self.checked += 1
        parts = []
        for linter, expected in truth.items():
            extra, missing = Counter[Key](), Counter[Key]()
            for view in views:
                extra |= view.get(linter, Counter()) - expected
                missing |= expected - view.get(linter, Counter())
            self.extra.setdefault(linter, Counter()).update(extra)
            self.missing.setdefault(linter, Counter()).update(missing)
            self.worst[linter] = max(self.worst[linter], extra.total() + missing.total())
            parts.append(f"{linter} {expected.total()}: extra {extra.total()}, "
                         f"missing {missing.total()}")  # fmt: skip
        return "; ".join(parts)

    def clean(self) -> bool:
        return not any(self.extra.values()) and not any(self.missing.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", help="a git repository (work tree or bare); only read")
    parser.add_argument("--commits", type=int, default=150, help="nights to replay")
    parser.add_argument("--check-every", type=int, default=1, help="compare every K nights")
    parser.add_argument("--select", action="append", default=[], help="ruff rules (e.g. ALL)")
    parser.add_argument("--ignore", action="append", default=[], help="ruff rules to ignore")
    parser.add_argument("--linter", action="append", default=[], choices=["shellcheck"],
                        help="a linter preset to run beside ruff")  # fmt: skip
    parser.add_argument("--whole-tree", action="store_true",
                        help="lint every file every night (no per-file results kept)")  # fmt: skip
    parser.add_argument("--rewind", action="store_true", help="finally reset to mid-history")
    parser.add_argument("--branch", action="store_true",
                        help="replay the last N first-parent merges as branch reviews instead "
                        "(bench/branch_truth.py)")  # fmt: skip
    parser.add_argument("--push", action="store_true",
                        help="with --branch: review each branch one commit earlier first, so "
                        "its head is a push (timed beside a first review of it)")  # fmt: skip
    args = parser.parse_args()
    if args.branch:
        from branch_truth import replay_merges  # beside this script

        return replay_merges(args, Oracle)
    repo = Path(args.repo).resolve()
    shas = git(repo, "rev-list", "--first-parent", f"--max-count={args.commits}", "HEAD").split()
    shas.reverse()
    print(f"replaying {len(shas)} first-parent commits of {repo} as nightly lint reviews "
          f"(ruff {' '.join(args.select) or 'as configured'}"
          f"{''.join(f', {name}' for name in args.linter)})")  # fmt: skip
    lint = {"select": args.select, "ignore": args.ignore}
    linters: list[dict[str, object]] = [{"name": name, "preset": name} for name in args.linter]
    if args.whole_tree:
        linters = [{**LINTER_PRESETS[name], "name": name, "per_file": None} for name in args.linter]
    with tempfile.TemporaryDirectory(prefix="opsdesk-truth-") as tmp_text:
        tmp = Path(tmp_text)
        data_dir = tmp / "data"
        engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
        migrate.upgrade(engine)
        oracle = Oracle(repo, tmp, args)
        tally = Tally()

        def context_at(sha: str) -> Context:
            config = Config.model_validate(
                {"repos": [{"name": "bench", "path": str(repo), "branch": sha,
                            "linters": linters}], "reviewer": {"lint": lint}}
            )  # fmt: skip
            return Context(config, engine, data_dir, "bench", runner_id="bench")

        kinds: Counter[str] = Counter()
        hits = checks = failed = failed_agreed = 0
        savings: list[float] = []
        review_ms: list[float] = []
        delta_ms: list[float] = []
        for night, sha in enumerate(shas):
            context = context_at(sha)
            started = time.perf_counter()
            try:
                result = recorded_review(context, "bench")
            except ReviewFailed as exc:
                failed += 1
                agreed = oracle.at(sha) is None  # a developer's ruff must fail there too
                failed_agreed += agreed
                print(f"  night {night + 1:>4} {sha[:8]} failed: {exc.reason} "
                      f"(ruff in a clone fails too: {'yes' if agreed else 'NO'})")  # fmt: skip
                continue
            review_ms.append((time.perf_counter() - started) * 1000)
            kinds[result.kind] += 1
            if result.kind == "delta":
                delta_ms.append(review_ms[-1])
            again = recorded_review(context, "bench")
            checks += 1
            hits += again.cache_hit
            if result.kind == "delta" and result.base_sha:
                delta, full = delta_and_full_tokens(repo, result.base_sha, sha)
                savings.append(100.0 * (1 - delta / full) if full else 0.0)
            if night % args.check_every == 0 or night == len(shas) - 1:
                truth = oracle.at(sha)
                views = [shown_by_linter(result), shown_by_linter(again), listed_by_linter(context)]
                said = "ruff fails in a clone, opsdesk not" if truth is None else tally.compare(
                    truth, *views)  # fmt: skip
                counts = result.counts
                print(f"  night {night + 1:>4} {sha[:8]} {result.kind:5} new {counts['new']:>4} "
                      f"open {counts['open']:>5} fixed {counts['fixed']:>4} "
                      f"({review_ms[-1]:.0f} ms, hit {'yes' if again.cache_hit else 'NO'}); "
                      f"{said}")  # fmt: skip
                if truth is None:
                    failed += 1
            else:
                print(f"  night {night + 1:>4} {sha[:8]} {result.kind:5} ({review_ms[-1]:.0f} ms, "
                      f"hit {'yes' if again.cache_hit else 'NO'}); not compared")  # fmt: skip
        rewound = "not run"
        if args.rewind and len(shas) > 2:
            middle = shas[len(shas) // 2]
            back = recorded_review(context_at(middle), "bench")
            truth = oracle.at(middle)
            if truth is not None:
                said = tally.compare(
                    truth, shown_by_linter(back), listed_by_linter(context_at(middle))
                )
                rewound = f"{middle[:8]} cache hit {'yes' if back.cache_hit else 'NO'}; {said}"
                hits, checks = hits + back.cache_hit, checks + 1
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
    for linter in tally.extra:
        print(f"{linter}: extra {tally.extra[linter].total()}, missing "
              f"{tally.missing[linter].total()} over {tally.checked} checks (the review, its "
              f"cache hit and /findings each night); the worst night: "
              f"{tally.worst[linter]}")  # fmt: skip
        for label, diff in (("extra", tally.extra[linter]), ("missing", tally.missing[linter])):
            for key in list(diff)[:EXAMPLES]:
                print(f"  {label}: {key[0]}:{key[1]} {key[2]} {key[3]}")
    print(f"rewind: {rewound}")
    print(f"cache hits on a second review of the same HEAD: {hits}/{checks} "
          f"({100.0 * hits / max(checks, 1):.0f}%)")  # fmt: skip
    if savings:
        print(f"median delta vs full-tree prompt tokens: {statistics.median(savings):.1f}% saved "
              f"over {len(savings)} deltas")  # fmt: skip
    print(f"review (miss) median {statistics.median(review_ms):.0f} ms")
    if delta_ms:
        mode = "whole tree every night" if args.whole_tree else "per-file results kept"
        print(f"delta night median {statistics.median(delta_ms) / 1000:.1f} s over "
              f"{len(delta_ms)} nights ({mode}); the first, full night "
              f"{review_ms[0] / 1000:.1f} s")  # fmt: skip
    reused_text = f"{statistics.median(reused):.0f} ms" if reused else "n/a"
    print(f"checkout: first {first_ms:.0f} ms, reused median {reused_text}")
    return 0 if tally.clean() and hits == checks and failed == failed_agreed else 1


if __name__ == "__main__":
    sys.exit(main())
