"""A slow linter on only what changed, with the findings of a whole-tree run.

For a linter declared `per_file` (its findings for a file depend only on that file
and the configuration files the declaration names), a file's findings are kept by
(path, content hash, linter, version, configuration fingerprint) and the linter runs
on the files with no kept result. Anything that can change a file's result changes
its key: its content, the linter's version (an upgrade in place too), its command,
or any of the named configuration files anywhere in the tree or in the linter's
home directory.

shellcheck follows the scripts a script sources when they are among its inputs, so
a script's key also holds the content of every file it may source (`source`, `.`,
`# shellcheck source=`, matched by file name anywhere in the tree), and of what those
source in turn: a change to any of them lints it again, together with those files —
the inputs a whole-tree run gives it. A script sourcing only what shellcheck cannot
resolve (`. "$plugin"`) depends on itself alone.
A file whose findings the report does not name as that file (a name that is not
UTF-8) is never kept either.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from pathlib import Path, PurePosixPath

from jobs.config.schema import LinterConfig
from jobs.review.checkout import Checkout, read_checkout_file
from jobs.review.finding import Finding, display_path
from jobs.review.lint.configs import is_shellcheck, sourced_names
from jobs.review.lint.linters import covers, linter_env, run_linter
from jobs.review.lint.results_cache import ResultCache

KEY_VERSION = 1  # changes when what a key covers does


def config_fingerprint(linter: LinterConfig, checkout: Checkout, version: str) -> str:
    """The linter's command, version and the content of every configuration file its
    `per_file` names: in the tree and, for a plain name, in its home directory."""
    globs = linter.per_file or []
    parts: list[object] = [KEY_VERSION, linter.command, linter.format, linter.files, version]
    for path in sorted(checkout.files):
        if covers(globs, path):
            parts.append([path, _digest(read_checkout_file(checkout, path) or b"")])
    home = linter_env().get("HOME")
    for name in globs:
        if home and "/" not in name and not any(c in name for c in "*?["):
            parts.append(["~", name, _home_file(Path(home) / name)])
    return _digest(json.dumps(parts).encode())


def lint_changed(
    linter: LinterConfig,
    checkout: Checkout,
    files: list[str],
    cache: ResultCache,
    version: str,
) -> list[Finding]:
    """The findings a run of `linter` on all of `files` gives, linting only the files
    with no kept result (and what those source)."""
    config = config_fingerprint(linter, checkout, version)
    tree = _Sources(checkout, is_shellcheck(linter.command))
    keys: dict[str, str] = {}
    for path in files:
        if display_path(path) == path:
            reached = [[target, tree.digest(target)] for target in sorted(tree.closure(path))]
            key = [path, tree.digest(path), linter.name, config, reached]
            keys[path] = _digest(json.dumps(key).encode())
    kept = cache.get_many(keys.values())
    inputs = {path for path in files if keys.get(path) not in kept}
    covered = set(files)
    for path in list(inputs):  # what a whole run would give it to follow
        inputs |= tree.closure(path) & covered
    fresh = run_linter(linter, checkout.root, sorted(inputs)) if inputs else []
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for finding in fresh:
        by_path[finding.path].append(finding)
    if set(by_path) <= inputs:  # every finding is a file's we know: each can be kept
        cache.put_many({keys[p]: by_path[p] for p in sorted(inputs) if p in keys})
    return [f for p in files if p not in inputs for f in kept[keys[p]]] + fresh


class _Sources:
    """The checkout's files as shellcheck may follow them, each read once: a name a
    script sources matches every file of that name in the tree (one added later
    makes the script follow it then)."""

    def __init__(self, checkout: Checkout, follows: bool) -> None:
        self.checkout = checkout
        self.follows = follows  # False: a linter that reads each file alone
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for path in sorted(checkout.files):
            self.by_name[PurePosixPath(path).name].append(path)
        self._digests: dict[str, str] = {}
        self._targets: dict[str, list[str]] = {}

    def _read(self, path: str) -> None:
        content = read_checkout_file(self.checkout, path) or b""
        self._digests[path] = _digest(content)
        names = sourced_names(content.decode("utf-8", "replace")) if self.follows else ()
        self._targets[path] = [t for name in sorted(names) for t in self.by_name.get(name, [])]

    def digest(self, path: str) -> str:
        if path not in self._digests:
            self._read(path)
        return self._digests[path]

    def closure(self, path: str) -> set[str]:
        """Every file `path` may make the linter read, however indirectly."""
        reached: set[str] = set()
        pending = [path]
        while pending:
            current = pending.pop()
            if current not in self._targets:
                self._read(current)
            for target in self._targets[current]:
                if target not in reached:
                    reached.add(target)
                    pending.append(target)
        return reached


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _home_file(path: Path) -> str | None:
    """The hash of a configuration file in the linter's home directory, if any."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return _digest(handle.read(1024 * 1024))
