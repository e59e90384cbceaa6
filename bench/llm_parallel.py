"""A full model review with one call at a time against several at once.

    python bench/llm_parallel.py [--files 40] [--latency 1.0] [--slots 4] [--parallel 4]

A repository of `--files` Python files (made here, one commit) is reviewed in full
through the real engine, twice, each time into its own SQLite database: once with
`[reviewer.llm] parallel = 1`, once with `--parallel`. The model is the tests'
stand-in (tests/standins/model_server.py) on 127.0.0.1, serving `--slots` requests
at once (llama.cpp `--parallel N`, OLLAMA_NUM_PARALLEL) and taking `--latency`
seconds for each, as a model on a GPU does whatever the prompt; its answers depend
on the prompt only (a finding on each file's first added line).

Prints each review's wall time and calls, the ratio on a line that names it
(`parallel 4: ratio 0.29`, target <= 0.35), and whether both stored the same
findings, notes and tokens. Exits 1 when they differ or the ratio misses the target.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jobs.config.schema import Config
from jobs.context import Context
from jobs.review.engine import ReviewResult
from jobs.review.run_record import recorded_review
from storage import migrate
from storage.db import make_engine
from tests.jobs.review.llm.test_reviewer import finding_per_file
from tests.standins.model_server import ModelServer

TARGET = 0.35


def make_repository(path: Path, files: int) -> None:
    """`files` modules of ~120 lines each: a few files fill one 8,192-token call."""
    path.mkdir()
    for n in range(files):
        body = "".join(
            f"def handler_{n}_{i}(request, store):\n"
            f"    value = request.get('field_{i}')\n"
            f"    return store.save('key_{n}_{i}', value)\n\n"
            for i in range(30)
        )
        (path / f"module_{n:02}.py").write_text(body)
    who = {"NAME": "bench", "EMAIL": "bench@example.org"}
    env = {
        f"GIT_{role}_{key}": value for role in ("AUTHOR", "COMMITTER") for key, value in who.items()
    }
    env["HOME"] = str(path)
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "modules"]):
        subprocess.run(["git", "-C", str(path), *command], check=True, env=env)


def review(repo: Path, tmp: Path, server: ModelServer, parallel: int) -> tuple[float, Any]:
    """A full review at `parallel`, in a database of its own: (seconds, what it stored)."""
    engine = make_engine(f"sqlite:///{tmp / f'parallel-{parallel}.db'}")
    migrate.upgrade(engine)
    llm = {"base_url": server.url, "model": "bench", "parallel": parallel, "timeout_s": 60}
    config = Config.model_validate(
        {"repos": [{"name": "bench", "path": str(repo)}],
         "reviewer": {"default": "llm", "llm": llm}}
    )  # fmt: skip
    context = Context(config, engine, tmp / f"data-{parallel}", "bench", runner_id="bench")
    asked = len(server.received)
    started = time.perf_counter()
    result: ReviewResult = recorded_review(context, "bench")
    seconds = time.perf_counter() - started
    stored = (
        [(f.path, f.line, f.category, f.message) for f in result.findings],
        result.notes,
        [(s.path, s.reason) for s in result.skipped_files],
        (result.tokens_in, result.tokens_out),
    )
    print(
        f"parallel {parallel}: {seconds:.1f} s, {len(server.received) - asked} calls, "
        f"{len(result.findings)} findings, peak {server.peak_in_flight} calls at the server"
    )
    server.peak_in_flight = 0
    return seconds, stored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per call")
    parser.add_argument("--slots", type=int, default=4, help="requests the server serves at once")
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    server = ModelServer(context_tokens=8192)
    server.slots, server.latency_s, server.responder = args.slots, args.latency, finding_per_file
    try:
        with tempfile.TemporaryDirectory(prefix="opsdesk-llm-parallel-") as tmp_text:
            tmp = Path(tmp_text)
            repo = tmp / "repo"
            make_repository(repo, args.files)
            print(f"full review of {args.files} files; the model takes {args.latency:g} s a "
                  f"call and serves {args.slots} at once")  # fmt: skip
            one, stored_one = review(repo, tmp, server, 1)
            many, stored_many = review(repo, tmp, server, args.parallel)
    finally:
        server.close()
    ratio = many / one
    same = stored_one == stored_many
    print(f"parallel {args.parallel}: ratio {ratio:.2f} (target <= {TARGET})")
    print(f"same findings, notes, not-reviewed files and tokens: {'yes' if same else 'NO'}")
    return 0 if same and ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
