"""Replay a repository's last merged pull requests as branch reviews and check them
against the linter's own difference (`python bench/review_truth.py REPO --branch`).

Each of the last N first-parent merges of HEAD is a pull request that was merged: its
second parent is the branch head, its first parent the main branch it was merged into.
Both become branches of a scratch clone (the repository is only read), and opsdesk
reviews the branch against main through the real engine (`run_branch_review`). The
truth: ruff run in a clone at the branch head and at the merge base, as a developer
runs it; new must equal head minus merge base, and fixed the reverse, as multisets of
(path, rule, message). Printed per merge: new, fixed, extra (opsdesk says, ruff does
not) and missing (the reverse), the review's time, and whether asking again is a cache
hit. Exits 1 unless every extra and missing is 0 and every second ask is a hit.

`--push` reviews, before each merged head, its branch one commit earlier (when the
branch has two commits or more from the same merge base): the head is then a push
to a reviewed branch, a delta (the merge base not linted again). The same head is
also reviewed as a first review in a database and data directory of its own; both
times are printed, and the truth is checked on the push.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from jobs.config.schema import Config
from jobs.context import Context
from jobs.review.branch_review import BranchAsk, run_branch_review
from jobs.review.finding import normalize_message
from jobs.review.targets import ReviewFailed
from storage import migrate
from storage.db import make_engine

Said = tuple[str, str, str]  # path, rule, normalized message: a finding without its line


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def without_lines(found: Counter[tuple[str, int, str, str]]) -> Counter[Said]:
    out: Counter[Said] = Counter()
    for (path, _line, rule, message), count in found.items():
        out[(path, rule, normalize_message(message))] += count
    return out


def replay_merges(args: argparse.Namespace, oracle_class: type) -> int:
    repo = Path(args.repo).resolve()
    merges = git(repo, "rev-list", "--first-parent", "--merges",
                 f"--max-count={args.commits}", "HEAD").split()  # fmt: skip
    merges.reverse()
    print(f"replaying the last {len(merges)} first-parent merges of {repo} as branch reviews "
          f"(ruff {' '.join(args.select) or 'as configured'})")  # fmt: skip
    lint = {"select": args.select, "ignore": args.ignore}
    extra_total = missing_total = hits = failed = 0
    states: Counter[str] = Counter()
    review_ms: list[float] = []
    push_ms: list[float] = []  # a push to a reviewed branch
    first_ms: list[float] = []  # the same heads, reviewed first
    with tempfile.TemporaryDirectory(prefix="opsdesk-branch-truth-") as tmp_text:
        tmp = Path(tmp_text)
        scratch = tmp / "repo.git"
        subprocess.run(["git", "clone", "-q", "--bare", "--no-tags", str(repo), str(scratch)],
                       check=True)  # fmt: skip
        engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
        migrate.upgrade(engine)
        config = Config.model_validate(
            {"repos": [{"name": "bench", "path": str(scratch)}], "reviewer": {"lint": lint}}
        )
        context = Context(config, engine, tmp / "data", "bench", runner_id="bench")
        oracle = oracle_class(repo, tmp, args)
        for number, merge in enumerate(merges, 1):
            main_sha, head_sha = git(repo, "rev-list", "--parents", "-n", "1", merge).split()[1:3]
            git(scratch, "update-ref", f"refs/heads/main-{number}", main_sha)
            git(scratch, "update-ref", f"refs/heads/pr-{number}", head_sha)
            ask = BranchAsk(branch=f"pr-{number}", base=f"main-{number}")
            pushed = args.push and _review_before_push(context, scratch, number, head_sha, ask)
            if pushed:
                git(scratch, "update-ref", f"refs/heads/pr-{number}", head_sha)
                first_ms.append(_first_review_ms(tmp / f"first-{number}", config, ask))
            started = time.perf_counter()
            try:
                found = run_branch_review(context, "bench", ask)
            except ReviewFailed as exc:
                failed += 1
                print(f"  merge {merge[:8]} failed: {exc.reason}")
                continue
            review_ms.append((time.perf_counter() - started) * 1000)
            if pushed:
                push_ms.append(review_ms[-1])
            again = run_branch_review(context, "bench", ask)
            hits += again.result.cache_hit
            at_head, at_base = oracle.at(head_sha), oracle.at(found.head.merge_base)
            if at_head is None or at_base is None:
                print(f"  merge {merge[:8]}: ruff fails in a clone there; not compared")
                continue
            head_said, base_said = without_lines(at_head["ruff"]), without_lines(at_base["ruff"])
            said: dict[str, Counter[Said]] = {"new": Counter(), "fixed": Counter()}
            for f in found.result.findings:
                said[f.status][(f.path, f.category, normalize_message(f.message))] += 1
            truth = {"new": head_said - base_said, "fixed": base_said - head_said}
            extra = sum(((said[s] - truth[s]).total() for s in said), 0)
            missing = sum(((truth[s] - said[s]).total() for s in said), 0)
            extra_total, missing_total = extra_total + extra, missing_total + missing
            states.update({s: said[s].total() for s in said})
            commits = found.result.stored.row["commits_covered"]
            print(f"  merge {merge[:8]} head {head_sha[:8]} base {found.head.merge_base[:8]} "
                  f"({commits} commits): new {said['new'].total()} fixed "
                  f"{said['fixed'].total()}; extra {extra} missing {missing} "
                  f"({review_ms[-1]:.0f} ms, again a cache hit: "
                  f"{'yes' if again.result.cache_hit else 'NO'})")  # fmt: skip
        engine.dispose()
    reviewed = len(merges) - failed
    print()
    print(f"branch reviews: {reviewed} of {len(merges)} merges; new {states['new']}, fixed "
          f"{states['fixed']}; extra {extra_total}, missing {missing_total}; cache hits on "
          f"asking again {hits}/{reviewed}")  # fmt: skip
    if review_ms:
        what = "pushes among them" if push_ms else "head and merge base linted"
        print(f"review (miss; {what}) median "
              f"{statistics.median(review_ms):.0f} ms")  # fmt: skip
    if push_ms:
        print(f"pushes: {len(push_ms)}; review of the push median "
              f"{statistics.median(push_ms):.0f} ms, the same heads reviewed first (head and "
              f"merge base linted) median {statistics.median(first_ms):.0f} ms")  # fmt: skip
    return 0 if extra_total == missing_total == failed == 0 and hits == reviewed else 1


def _review_before_push(
    context: Context, scratch: Path, number: int, head_sha: str, ask: BranchAsk
) -> bool:
    """Review the branch one commit before `head_sha` (its first parent), when that
    commit is on the branch from the same merge base; True when it was."""
    parent = git(scratch, "rev-parse", f"{head_sha}^1").strip()
    main = git(scratch, "rev-parse", f"refs/heads/main-{number}").strip()
    base = git(scratch, "merge-base", head_sha, main).strip()
    if parent == base or git(scratch, "merge-base", parent, main).strip() != base:
        return False
    git(scratch, "update-ref", f"refs/heads/pr-{number}", parent)
    try:
        run_branch_review(context, "bench", ask)
    except ReviewFailed:
        return False
    return True


def _first_review_ms(tmp: Path, config: Config, ask: BranchAsk) -> float:
    """The branch at its head reviewed first: nothing of it or its merge base kept."""
    tmp.mkdir()
    engine = make_engine(f"sqlite:///{tmp / 'first.db'}")
    migrate.upgrade(engine)
    started = time.perf_counter()
    try:
        run_branch_review(Context(config, engine, tmp / "data", "bench", runner_id="bench"),
                          "bench", ask)  # fmt: skip
    finally:
        engine.dispose()
    return (time.perf_counter() - started) * 1000
