"""A repository's linter configuration, checked before a linter reads it.

Linters run with the reviewed commit's own configuration, which its author wrote.
Some settings name files the linter then reads: ruff's `extend` (another config,
followed however far it points; `~` and `$VARS` are expanded), `src` and
`namespace-packages` (directories it looks into), `cache-dir`; shellcheck's
`source-path` and `source` in a `.shellcheckrc` (or `shellcheckrc`), and — once external sources are
on — every `# shellcheck source=` / `source-path=` directive and `source` command
in a script. One that points outside the checkout would make the linter read this
host's files (and show what it found in chat), so it is refused by name before the
linter runs: `ruff.toml: extend = "/etc/passwd" points outside the repository`.

shellcheck's settings are read as shellcheck reads them (0.11, tried): several
`key=value` a line, values quoted or not, a comment after them; a relative path is
taken from the working directory (the checkout's root), not from the file that
names it, and `SCRIPTDIR` is the script's directory. Where opsdesk's reading could
differ, it checks every reading and refuses if any points outside.

Only files the checkout holds are read (regular files within the size limit, never
a link), each through `read_checkout_file`.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import shlex
import tomllib
from collections.abc import Iterable, Iterator
from typing import Any

from jobs.core.safe_text import printable
from jobs.review.checkout import Checkout, read_checkout_file
from jobs.review.reviewers import ReviewerError

RUFF_CONFIG_NAMES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
RUFF_PATH_KEYS = ("extend", "src", "namespace-packages", "cache-dir")
# shellcheck reads the nearest of either name above a script (0.11, tried).
SHELLCHECK_RCS = frozenset({".shellcheckrc", "shellcheckrc"})
SHELLCHECK_PATH_KEYS = ("source-path", "source")
# Harmless targets scripts name to silence a warning (`# shellcheck source=/dev/null`).
HARMLESS = frozenset({"/dev/null"})
_MAX_SHOWN = 80
# A directive is a comment; shellcheck honours it only before a command, opsdesk
# looks at every one (a string that looks like one is refused too: harmless).
_DIRECTIVE = re.compile(r"#[ \t]*shellcheck[ \t]+([^\n]*)")
# `source` or `.` followed by a word, wherever a command could start (after a blank,
# an operator or a keyword): more than shellcheck follows, never less.
_SOURCE_COMMAND = re.compile(r"(?:^|[\s;&|(){}!`])(?:source|\.)[ \t]+([^\s;&|()<>]+)")
_QUOTES = str.maketrans("", "", "\"'\\")
# The last part of a path written out after a `/` (`$(dirname "$0")/lib.sh`: lib.sh).
_PATH_TAIL = re.compile(r"/([^\s/\"'`;&|()<>$]+)")


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


def shellcheck_settings(line: str) -> Iterator[tuple[str, str]]:
    """The `key=value` settings of one line of a `.shellcheckrc` or directive, in every
    reading: as a shell splits it (quotes removed, a comment ignored) and as plain
    words with every quote and backslash dropped."""
    words = line.translate(_QUOTES).split()
    with contextlib.suppress(ValueError):  # an unclosed quote: the plain reading stands
        words += shlex.split(line, comments=True)
    for word in words:
        key, equals, value = word.partition("=")
        if equals:
            yield key, value


def _shellcheck_target_inside(script_dir: str, value: str) -> bool:
    """Whether a path shellcheck would read stays in the checkout: `SCRIPTDIR` is the
    script's directory, anything else is taken from the checkout's root."""
    if value in HARMLESS:
        return True
    if value == "SCRIPTDIR" or value.startswith("SCRIPTDIR/"):
        return inside(script_dir, value.removeprefix("SCRIPTDIR").lstrip("/") or ".")
    return inside("", value)


def reads_external_sources(command: Iterable[str]) -> bool:
    """`-x` / `--external-sources` on the command line, alone or among short flags."""
    return any(
        arg == "--external-sources" or (arg[:1] == "-" and arg[1:2] != "-" and "x" in arg[1:])
        for arg in command
    )


def check_shellcheck(checkout: Checkout, command: Iterable[str], scripts: list[str]) -> None:
    """Raise ReviewerError naming the first shellcheck setting or source directive
    that reaches outside the checkout."""
    external = reads_external_sources(command)
    for path in sorted(checkout.files):
        if posixpath.basename(path) not in SHELLCHECK_RCS:
            continue
        content = (read_checkout_file(checkout, path) or b"").decode("utf-8", "replace")
        for line in content.splitlines():
            for key, value in shellcheck_settings(line):
                # SCRIPTDIR in an rc: the scripts under its directory, the nearest first.
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
    text = content.decode("utf-8", "replace")
    script_dir = posixpath.dirname(script)
    for directive in _DIRECTIVE.finditer(text):
        for key, value in shellcheck_settings(directive.group(1)):
            if key in SHELLCHECK_PATH_KEYS and not _shellcheck_target_inside(script_dir, value):
                raise _refusal(script, key, value)
    for command in _SOURCE_COMMAND.finditer(text):
        target = command.group(1).translate(_QUOTES)
        if "$" in target or "`" in target or target.startswith("~") or target in HARMLESS:
            continue  # shellcheck does not follow a path it would have to expand (SC1090)
        # From the root (shellcheck's working directory) and from the script's own
        # directory (a `source-path=SCRIPTDIR`): both must stay inside.
        if not (inside("", target) and inside(script_dir, target)):
            raise _refusal(script, "source", target)


def is_shellcheck(command: list[str]) -> bool:
    return bool(command) and posixpath.basename(command[0]) == "shellcheck"


def sourced_names(text: str) -> frozenset[str]:
    """The file names a script may make shellcheck follow: the last part of each
    `source`/`.` target and `# shellcheck source=` directive, quotes dropped, and of
    every path written after a `source`/`.` on its line — shellcheck 0.11 follows
    `. "$(dirname "$0")/lib.sh"` and `. "$DIR/lib.sh"` as ./lib.sh. More than it
    follows, never less (words after a `.` in prose count too); a last part it would
    have to expand (`"$plugin"`) names nothing it can follow."""
    targets: list[str] = []
    for command in _SOURCE_COMMAND.finditer(text):
        targets.append(command.group(1).translate(_QUOTES))
        line_end = text.find("\n", command.end())
        rest = text[command.start(1) : line_end if line_end >= 0 else len(text)]
        targets += _PATH_TAIL.findall(rest)
    for directive in _DIRECTIVE.finditer(text):
        targets += [v for k, v in shellcheck_settings(directive.group(1)) if k == "source"]
    names = (posixpath.basename(target.rstrip("/")) for target in targets if "`" not in target)
    return frozenset(name for name in names if name and "$" not in name and name != "~")
