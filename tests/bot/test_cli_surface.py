"""The shell surface of `opsdesk`: --version, options after the command, a lazy
start, a closed pipe, and Ctrl-C / Ctrl-D in the terminal chat."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import termios
from importlib.metadata import version
from pathlib import Path

from tests.support.cli import ROOT, opsdesk
from tests.support.waiting import read_until, until_waiting_for_input


def write_config(where: Path, job: str) -> Path:
    config = where / "custom.toml"
    config.write_text(f'[[jobs]]\nname = "{job}"\ncommand = "echo hi"\n')
    return config


def test_version_prints_the_installed_version() -> None:
    result = opsdesk("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"opsdesk {version('opsdesk')}"


def test_config_option_works_after_the_command(tmp_path: Path) -> None:
    config = write_config(tmp_path, "after-the-command")
    result = opsdesk("jobs", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert [line["name"] for line in json.loads(result.stdout)] == ["after-the-command"]


def test_config_before_the_command_is_not_overwritten_by_the_commands_default(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, "before-the-command")
    result = opsdesk("--config", str(config), "jobs", "--json", "-v")
    assert result.returncode == 0, result.stderr
    assert [line["name"] for line in json.loads(result.stdout)] == ["before-the-command"]


def test_options_after_a_nested_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[nope]\n")
    result = opsdesk("config", "check", "--config", str(bad))
    assert result.returncode == 1
    assert "nope: unknown key" in result.stderr


def test_help_loads_no_database_model_or_http_library() -> None:
    probe = (
        "import sys\n"
        "from bot import cli\n"
        "try:\n"
        "    cli.build_parser().parse_args(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('sqlalchemy', 'sqlmodel', 'alembic', 'pydantic', 'httpx', 'aiohttp',\n"
        "         'apscheduler', 'slack_bolt', 'telegram', 'matplotlib', 'psycopg')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "usage: opsdesk" in result.stdout
    assert result.stderr.strip() == "[]"


def test_a_closed_pipe_ends_the_command_quietly_with_its_exit_code(tmp_path: Path) -> None:
    assert opsdesk("db", "upgrade").returncode == 0  # a healthy database: health exits 0
    # The reader is gone before opsdesk writes a byte, as with `| head -0`; a reader
    # that leaves after the first line (`| head -1`) meets the same error on a longer
    # output, but this order is the one that always happens.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        process = subprocess.run(
            [sys.executable, "-m", "bot.cli", "health", "--json"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert process.returncode == 0
    assert process.stderr == ""


def test_a_shell_pipeline_into_head_prints_the_first_line_only() -> None:
    assert opsdesk("db", "upgrade").returncode == 0
    pipeline = f"'{sys.executable}' -m bot.cli health --json | head -1; exit ${{PIPESTATUS[0]}}"
    result = subprocess.run(
        ["bash", "-c", pipeline], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "{\n"
    assert "Traceback" not in result.stderr


def assert_line_editing(terminal: int) -> None:
    """readline takes the terminal (non-canonical mode) before it shows its prompt, so
    once the prompt is read, keys typed go to readline's line: no wait is needed."""
    assert not termios.tcgetattr(terminal)[3] & termios.ICANON, "readline has no terminal"


# Runs a command on its standard input's terminal as its controlling terminal, so the
# terminal turns Ctrl-C into SIGINT for it (subprocess cannot, and forking this
# multi-threaded test process with pty.fork could deadlock the child).
ON_ITS_TERMINAL = (
    "import fcntl, os, sys, termios\n"
    "os.setsid()\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def test_ctrl_c_in_the_terminal_chat_clears_the_line_and_ctrl_d_leaves(tmp_path: Path) -> None:
    terminal, child_side = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", ON_ITS_TERMINAL, sys.executable, "-m", "bot.cli", "console"],
        stdin=child_side,
        stdout=child_side,
        stderr=child_side,
        cwd=ROOT,
        close_fds=True,
    )
    os.close(child_side)
    try:
        read_until(terminal, "opsdesk> ")
        assert_line_editing(terminal)
        os.write(terminal, b"/this line is abandoned")
        read_until(terminal, "abandoned")  # readline has it on the line
        until_waiting_for_input(process.pid)  # and waits for the next key
        os.write(terminal, b"\x03")  # Ctrl-C: the terminal sends SIGINT
        read_until(terminal, "opsdesk> ")
        assert_line_editing(terminal)
        os.write(terminal, b"/help\r")
        answer = read_until(terminal, "opsdesk> ")
        assert_line_editing(terminal)
        assert "/review" in answer and "abandoned" not in answer.split("/help", 1)[1]
        os.write(terminal, b"\x04")  # Ctrl-D on an empty line: end of input
        assert process.wait(timeout=30) == 0
    finally:
        os.close(terminal)
        if process.poll() is None:
            process.kill()
            process.wait()
