"""A repository's linter configuration, checked before a linter reads it.

Linters run with the reviewed commit's own configuration, which its author wrote.
Some settings name files the linter then reads: ruff's `extend` (another config,
followed however far it points; `~` and `$VARS` are expanded), `src` and
`namespace-packages` (directories it looks into), `cache-dir`; shellcheck's
`source-path` and `source` in a `.shellcheckrc`, and — once external sources are
on — every `# shellcheck source=` directive and `source` command in a script. One
that points outside the checkout would make the linter read this host's files (and
show what it found in chat), so it is refused by name before the linter runs:
`ruff.toml: extend = "/etc/passwd" points outside the repository`.

Only files the checkout holds are read (regular files within the size limit, never
a link), each through `read_checkout_file`.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from collections.abc import Iterable, Iterator
from typing import Any

from jobs.core.safe_text import printable
from jobs.review.checkout import Checkout, read_checkout_file
from jobs.review.reviewers import ReviewerError

RUFF_CONFIG_NAMES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
RUFF_PATH_KEYS = ("extend", "src", "namespace-packages", "cache-dir")
SHELLCHECK_RC = ".shellcheckrc"
SHELLCHECK_PATH_KEYS = ("source-path", "source")
# Harmless targets scripts name to silence a warning (`# shellcheck source=/dev/null`).
HARMLESS = frozenset({"/dev/null"})
_MAX_SHOWN = 80
_EXTERNAL_FLAGS = frozenset({"-x", "--external-sources"})
_DIRECTIVE = re.compile(rb"^\s*#\s*shellcheck\s+(.*)$", re.MULTILINE)
_DIRECTIVE_PATH = re.compile(rb"\b(source|source-path)=(\S+)")
_SOURCE_COMMAND = re.compile(rb"^\s*(?:source|\.)\s+([\"']?)([^\s\"';|&]+)\1", re.MULTILINE)


def _shown(value: str) -> str:
    return printable(value)[:_MAX_SHOWN]


def _refusal(config: str, key: str, value: str) -> ReviewerError:
    return ReviewerError(
        f"{_shown(config)}: {key} = {_shown(value)!r} points outside the repository; "
        "opsdesk does not let a reviewed commit's configuration read this host's files"
    )


def inside(base_dir: str, target: str) -> bool:
    """Whether `target`, as a config in `base_dir` names it, stays in the checkout.
    Anything the linter would expand (`~`, `$VAR`) counts as outside."""
    if not target or "$" in target or target.startswith("~") or "\0" in target:
        return False
    if posixpath.isabs(target):
        return False
    joined = posixpath.normpath(posixpath.join(base_dir, target))
    return joined != ".." and not joined.startswith("../")


def _toml(checkout: Checkout, path: str) -> dict[str, Any] | None:
    content = read_checkout_file(checkout, path)
    if content is None:
        return None
    try:
        return tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None  # ruff reports a broken file itself, with its own reason


def _ruff_section(path: str, document: dict[str, Any]) -> dict[str, Any]:
    if posixpath.basename(path) == "pyproject.toml":
        tool = document.get("tool")
        section = tool.get("ruff") if isinstance(tool, dict) else None
        return section if isinstance(section, dict) else {}
    return document


def _values(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))


def check_ruff_configs(checkout: Checkout) -> None:
    """Raise ReviewerError naming the first ruff setting that points outside."""
    pending = [p for p in sorted(checkout.files) if posixpath.basename(p) in RUFF_CONFIG_NAMES]
    seen: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        document = _toml(checkout, path)
        section = _ruff_section(path, document) if document is not None else {}
        base_dir = posixpath.dirname(path)
        for key in RUFF_PATH_KEYS:
            for value in _values(section.get(key)):
                if not inside(base_dir, value):
                    raise _refusal(path, key, value)
                if key == "extend":  # the extended config is checked the same way
                    pending.append(posixpath.normpath(posixpath.join(base_dir, value)))


def _rc_settings(content: bytes) -> Iterator[tuple[str, str]]:
    for raw in content.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            yield key.strip(), value.strip()


def _shellcheck_target_inside(base_dir: str, value: str) -> bool:
    if value in HARMLESS:
        return True
    if value == "SCRIPTDIR" or value.startswith("SCRIPTDIR/"):
        value = value.removeprefix("SCRIPTDIR").lstrip("/") or "."
    return inside(base_dir, value)


def check_shellcheck(checkout: Checkout, command: Iterable[str], scripts: list[str]) -> None:
    """Raise ReviewerError naming the first shellcheck setting or source directive
    that reaches outside the checkout."""
    external = any(arg in _EXTERNAL_FLAGS for arg in command)
    for path in sorted(checkout.files):
        if posixpath.basename(path) != SHELLCHECK_RC:
            continue
        content = read_checkout_file(checkout, path) or b""
        for key, value in _rc_settings(content):
            if key in SHELLCHECK_PATH_KEYS and not _shellcheck_target_inside(
                posixpath.dirname(path), value
            ):
                raise _refusal(path, key, value)
            external = external or (key == "external-sources" and value.lower() == "true")
    if external:  # shellcheck now reads what each script sources
        for script in scripts:
            _check_script_sources(checkout, script)


def _check_script_sources(checkout: Checkout, script: str) -> None:
    content = read_checkout_file(checkout, script)
    if content is None:
        return
    base_dir = posixpath.dirname(script)
    for directive in _DIRECTIVE.finditer(content):
        for key, value in _DIRECTIVE_PATH.findall(directive.group(1)):
            target = value.decode("utf-8", "replace")
            if not _shellcheck_target_inside(base_dir, target):
                raise _refusal(script, key.decode(), target)
    for command in _SOURCE_COMMAND.finditer(content):
        target = command.group(2).decode("utf-8", "replace")
        if "$" in target or target in HARMLESS:
            continue  # shellcheck cannot follow a path it would have to expand
        if not (inside("", target) or inside(base_dir, target)):
            raise _refusal(script, "source", target)


def is_shellcheck(command: list[str]) -> bool:
    return bool(command) and posixpath.basename(command[0]) == "shellcheck"
