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

from tests.standins.model_server import ModelServer, Scripted
from tests.support.cli import opsdesk_measured
from tests.support.git_repo import Repo

MAX_RSS_MB = 250


@pytest.fixture
def server() -> Iterator[ModelServer]:
    server = ModelServer()
    yield server
    server.close()


def config_file(tmp_path: Path, repo: Repo, server: ModelServer) -> Path:
    repo.commit("code", **{"app.py": "import os\nx = eval(input())\n"})
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


# Each a 1.9 MB answer (4x the 470 KB that once cost 25 s: a quadratic parser would
# take minutes), sent whole: the stand-in would cut a message to the answer's tokens.
FINDING = '{"path": "app.py", "line": 2, "message": "m [x] {y}"}, '
CRAFTED = {
    "unclosed list of findings": '{"findings": [' + FINDING * (1_880_000 // len(FINDING)),
    "brackets in strings": '["' + "[{" * 940_000 + '"',
}
MAX_CPU_S = 10  # such a review takes about 1 s of CPU, starting Python included


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
    server.script.append(Scripted(body=completion(CRAFTED[case])))
    done = opsdesk_measured(config_file(tmp_path, git_repo, server), "review", "demo")
    assert done.cpu_s < MAX_CPU_S, f"{done.cpu_s:.1f} s of CPU"
    # An answer whose JSON never closes is one the model did not finish: its piece is
    # asked again in smaller parts (the stand-in answers those with no findings).
    assert done.returncode == 0, done.stderr
    assert len(server.received) > 1 and "0 findings" in done.stdout
    assert "Traceback" not in done.stderr
    assert done.max_rss_mb < MAX_RSS_MB, f"peak {done.max_rss_mb:.0f} MB"
