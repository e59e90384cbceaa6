"""Each review module imports on its own, first, in a fresh interpreter: the
configuration's validator reaches into the prompt builder, so an import cycle would
only show when a tool (a bench script) imports the review code before the config."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.cli import ROOT


@pytest.mark.parametrize("module", ["jobs.review.sizing", "jobs.review.llm", "jobs.review.tokens"])
def test_a_review_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
