"""A hostile model server against the real `opsdesk review` process: an answer of
200 MB, an endless one, one nested 5,000 deep, and answers crafted to make parsing
quadratic. Before, the first left 4.3 GB resident, the second 2 GB within 20 s, the
third ended in a RecursionError traceback, and a 470 KB crafted answer cost 25 s of
CPU (each "{" or "[" decoded to the end of the text). Now each fails its call with
the reason or is read in one pass, the process stays small (the bound is generous:
such a review peaks at about 90 MB) and nothing is a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.review.budget import CUT_SHORT
from tests.standins.model_server import ModelServer, Scripted
from tests.support.cli import opsdesk_measured
from tests.support.git_repo import Repo

MAX_RSS_MB = 250


@pytest.fixture
def server() -> Iterator[ModelServer]:
    server = ModelServer()
    yield server
    server.close()


def config_file(
    tmp_path: Path, repo: Repo, server: ModelServer, code: str = "import os\nx = eval(input())\n"
) -> Path:
    repo.commit("code", **{"app.py": code})
    path = tmp_path / "opsdesk.toml"
    path.write_text(
        f"data_dir = {json.dumps(str(tmp_path / 'data'))}\n"
        '[reviewer]\ndefault = "llm"\n'
        f'[reviewer.llm]\nbase_url = "{server.url}"\nmodel = "tiny"\n'
        "timeout_s = 60\nmax_retries = 0\nanswer_tokens = 8000\ncontext_tokens = 32768\n"
        f'[[repos]]\nname = "demo"\npath = {json.dumps(str(repo.path))}\n'
    )
    return path


CASES = {
    "200 MB answer": (Scripted(flood_bytes=200 * 1024 * 1024), "answer larger than 8 MB"),
    "endless answer": (Scripted(flood_bytes=-1), "answer larger than 8 MB"),
    "nested 5,000 deep": (
        Scripted(content="[" * 5000 + "]" * 5000),
        "model answered with JSON nested deeper than 64 levels",
    ),
}


# Answers crafted against the parser, sent whole (the stand-in would cut a message to
# the answer's tokens), about a file of one line, which a cut answer cannot be asked
# again in smaller parts: what the answer holds is read. On the last two the old parser
# tried a decode at every "{" and "[", each failure a scan of the text: 0.1 MB took
# 8.6 s and 1 s, so these (16x and 8x that) took over 3 minutes and 44 s of CPU.
FINDING = '{"path": "lib.py", "line": 1, "message": "m [x] {y}"}, '
CRAFTED = {
    "unclosed list of findings": ('{"findings": [' + FINDING * (1_880_000 // len(FINDING)), 0),
    "brackets in strings": ('["' + "[{" * 940_000 + '"', 0),
    "broken objects in prose": ("note {x: 1} [y] " * (940_000 // 16), 1),
}
MAX_CPU_S = 10  # such a review takes 1-3 s of CPU, starting Python included


def completion(content: str) -> str:
    """A chat completion holding `content` as it is, finished normally."""
    choice = {"index": 0, "message": {"role": "assistant", "content": content}}
    usage = {"prompt_tokens": 900, "completion_tokens": 500}
    return json.dumps({"model": "tiny", "choices": [{**choice, "finish_reason": "stop"}],
                       "usage": usage})  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_hostile_answer_fails_the_review_with_its_reason_and_little_memory(
    git_repo: Repo, tmp_path: Path, server: ModelServer, case: str
) -> None:
    step, reason = CASES[case]
    server.script.append(step)
    done = opsdesk_measured(config_file(tmp_path, git_repo, server), "review", "demo")
    assert done.returncode == 1, done.stdout
    assert reason in done.stderr + done.stdout
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert done.max_rss_mb < MAX_RSS_MB, f"peak {done.max_rss_mb:.0f} MB"


@pytest.mark.parametrize("case", CRAFTED, ids=list(CRAFTED))
def test_an_answer_crafted_to_be_slow_to_parse_is_read_in_linear_time(
    git_repo: Repo, tmp_path: Path, server: ModelServer, case: str
) -> None:
    content, exit_code = CRAFTED[case]
    server.script.append(Scripted(body=completion(content)))
    config = config_file(tmp_path, git_repo, server, code="x = eval(input())\n")
    done = opsdesk_measured(config, "review", "demo", "--json")
    assert done.cpu_s < MAX_CPU_S, f"{done.cpu_s:.1f} s of CPU"
    assert done.returncode == exit_code, done.stdout + done.stderr
    if exit_code == 0:  # what the cut answer held about the diff (nothing); the file listed
        result = json.loads(done.stdout)
        assert result["findings"] == []
        assert result["skipped_files"] == [{"path": "app.py", "reason": CUT_SHORT}]
    else:
        assert "review of demo failed: model answered with no JSON" in done.stderr
    assert len(server.received) == 1
    assert "Traceback" not in done.stderr
    assert done.max_rss_mb < MAX_RSS_MB, f"peak {done.max_rss_mb:.0f} MB"
