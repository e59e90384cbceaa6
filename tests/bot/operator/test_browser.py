"""A real browser on the page of a real `opsdesk run`: headless Chromium loads it,
the test reads the rendered DOM for the expected figures and takes a screenshot.

Set OPSDESK_SCREENSHOT_TO=docs/operator-page.png to keep the screenshot (that is how
the README's picture is made)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import migrate
from storage.db import make_engine
from storage.models import utcnow
from tests.bot.operator.showcase import CONFIG, JOBS, SHOWN, write_history
from tests.support.waiting import read_until

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str:
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    if os.environ.get("CI"):
        pytest.fail("CI needs chromium for the browser test (.ci/run installs it)")
    pytest.skip("browser test: chromium not installed (apt-get install chromium)")


@pytest.fixture
def running_opsdesk(tmp_path: Path) -> Iterator[str]:
    """`opsdesk run` in a subprocess over a database with the showcase history, its
    operator page on a port the system picked; the page's URL from its start line."""
    data = tmp_path / "data"
    engine = make_engine(f"sqlite:///{data / 'opsdesk.db'}")
    migrate.upgrade(engine)
    write_history(engine, utcnow())
    engine.dispose()
    for repository in ("api", "web"):  # `opsdesk run` refuses repos that are not there
        subprocess.run(["git", "init", "-q", str(tmp_path / repository)], check=True)
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'data_dir = "{data}"\n'
        + CONFIG.format(root=tmp_path)
        + '\n[operator]\nlisten = "127.0.0.1:0"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPSDESK_", "SLACK_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    try:
        said = read_until(process.stderr.fileno(), " started: ")
        page = re.search(r"operator page (http://127\.0\.0\.1:\d+/)", said)
        if page is None:
            pytest.fail(f"opsdesk run did not serve its page: {said[-2000:]}")
        yield page.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, "opsdesk run did not stop cleanly on SIGTERM"


def chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--no-first-run", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_chromium_renders_the_page_with_the_expected_figures(
    running_opsdesk: str, tmp_path: Path
) -> None:
    browser = find_browser()
    dom = chromium(browser, tmp_path / "profile", "--dump-dom", running_opsdesk)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert "opsdesk optimization" in html
    for job in JOBS:
        assert job in html, job
    for label, figure in SHOWN.items():
        assert figure in html, label
    assert "Key insights" in html and "backup-db" in html
    assert 'class="chart"' in html

    shot = tmp_path / "page.png"
    taken = chromium(
        browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1560",
        running_opsdesk,
    )  # fmt: skip
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
    if keep := os.environ.get("OPSDESK_SCREENSHOT_TO"):
        shutil.copyfile(shot, keep)
