"""What reviews keep on disk in the data directory, and tidying it.

A review reads a remote repository from its clone, `<data_dir>/repos/<name>.git`,
and runs linters in its checkout, `<data_dir>/checkouts/<scratch_name(name)>`; both
are reused night after night. When a repository leaves the configuration (or an ad
hoc `/review` of a local path is not repeated) they would stay forever, so
`opsdesk run` removes, once a day, the clones and checkouts that belong to no
configured repository and that nothing has touched for `UNUSED_FOR`. The grace
covers another process on the same data directory (an `opsdesk review` with another
configuration) and a repository that is only renamed back. Only directories are
removed, never through a symbolic link.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from jobs.review.checkout import scratch_name

log = logging.getLogger(__name__)

CHECKOUTS = "checkouts"
CLONES = "repos"
UNUSED_FOR = timedelta(days=7)


def checkout_dir(data_dir: Path, repo: str) -> Path:
    return data_dir / CHECKOUTS / scratch_name(repo)


def clone_dir(data_dir: Path, repo: str) -> Path:
    return data_dir / CLONES / f"{repo}.git"


@dataclass(frozen=True)
class Tidied:
    removed: list[Path]
    freed_bytes: int


def unused_entries(
    data_dir: Path, configured: Iterable[str], now: float, unused_for: timedelta = UNUSED_FOR
) -> list[Path]:
    """Clones and checkouts of no repository in `configured`, untouched since
    `now - unused_for` (seconds since the epoch)."""
    names = list(configured)
    kept = {checkout_dir(data_dir, name) for name in names}
    kept |= {clone_dir(data_dir, name) for name in names}
    cutoff = now - unused_for.total_seconds()
    return [
        entry for entry in _entries(data_dir) if entry not in kept and _last_touched(entry) < cutoff
    ]


def tidy(data_dir: Path, configured: Iterable[str], now: float | None = None) -> Tidied:
    """Remove what `unused_entries` finds; what cannot be removed is logged and kept."""
    removed: list[Path] = []
    freed = 0
    for entry in unused_entries(data_dir, configured, time.time() if now is None else now):
        size = _size(entry)
        try:
            shutil.rmtree(entry)
        except OSError as exc:
            log.warning("could not remove the unused %s: %s", entry.name, exc.strerror or exc)
            continue
        removed.append(entry)
        freed += size
    return Tidied(removed, freed)


def _entries(data_dir: Path) -> Iterator[Path]:
    for kind in (CHECKOUTS, CLONES):
        try:
            children = list((data_dir / kind).iterdir())
        except OSError:  # not there yet (nothing reviewed), or unreadable
            continue
        for child in children:
            if child.is_dir() and not child.is_symlink():
                yield child


def _last_touched(entry: Path) -> float:
    """The newest modification time of the directory and its direct children: a
    checkout's index is rewritten by every review, a clone's FETCH_HEAD by every
    fetch."""
    newest = entry.lstat().st_mtime
    try:
        with os.scandir(entry) as children:
            for child in children:
                newest = max(newest, child.stat(follow_symlinks=False).st_mtime)
    except OSError:
        pass
    return newest


def _size(entry: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(entry):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total
