"""How the model reviewer would split a full review of a real repository into calls.

    python bench/llm_plan.py [REPO_PATH] [--ratio R]

For a full review of HEAD at several context sizes: the calls it takes, the prompt
tokens they send, how many files are reviewed and how many cannot be (one line
larger than a call's room), the largest prompt plus answer reserve against the
context (never above it), and the time the planning takes. No model is called.
`--ratio` is a calibration (server tokens / opsdesk's estimate; ~0.6 is typical of
BPE tokenizers on code), 1.0 being the raw estimate used before any server has
answered. Exits 1 if any planned call would exceed its context.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from jobs.config.schema import LlmReviewerConfig
from jobs.review.llm.prompt import review_messages
from jobs.review.llm.sizing import PromptSizer, reviewable
from jobs.review.tokens import Calibration

CONTEXTS = ((2048, 512), (8192, 1536), (32768, 4096))  # (context_tokens, answer_tokens)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", nargs="?", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--ratio", type=float, default=1.0, help="calibration ratio to assume")
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    packed = reviewable(repo, None, head)
    files = packed.files
    calibration = Calibration("bench", args.ratio, 0 if args.ratio == 1.0 else 1)
    print(f"full review of {repo} at {head[:8]}: {len(files)} reviewable files")
    print(f"calibration factor {calibration.factor:.2f}")
    ok = True
    for context, answer in CONTEXTS:
        config = LlmReviewerConfig(model="bench", context_tokens=context, answer_tokens=answer)
        sizer = PromptSizer(config, calibration)
        started = time.perf_counter()
        plan = sizer.plan(files, packed)
        sizes = [sizer.prompt_tokens(review_messages(piece)) for piece in plan.pieces]
        elapsed_ms = (time.perf_counter() - started) * 1000
        reviewed = {f.path for piece in plan.pieces for f in piece}
        unfit = {f.path for f in plan.too_large}
        largest = max(sizes, default=0) + answer
        ok = ok and largest <= context
        print(
            f"  context {context:>6,}: {len(plan.pieces):>5,} calls, {sum(sizes):>9,} prompt "
            f"tokens, {len(reviewed):>4} files reviewed, {len(unfit)} not reviewable; "
            f"largest call {largest:,}/{context:,}; planned in {elapsed_ms:.0f} ms"
        )
    print("every call within its context: " + ("ok" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
