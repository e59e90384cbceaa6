"""Result caching for any job: what a result depends on, as one fingerprint.

A job declares its inputs (`day`, `git:<repo>`, `file:<glob>`, `env:NAME`) and a TTL.
The fingerprint hashes them with the job's own definition (command, working
directory, environment), so editing the job also misses the cache. Values are hashed,
never stored: an `env:` input may be a secret.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jobs.config.schema import CacheConfig
from jobs.context import Context
from jobs.review.git import GitError, resolve_ref
from jobs.review.targets import ReviewFailed, resolve_target


class CacheInputError(Exception):
    """An input cannot be read (no such repository, git failed)."""


@dataclass(frozen=True)
class CacheInputs:
    """Where a job's cache inputs are read: the process's context (configuration, data
    directory), the job's working directory and environment, and the time now."""

    context: Context
    workdir: Path
    environ: Mapping[str, str]
    now: datetime


def fingerprint(cache: CacheConfig, definition: Any, inputs: CacheInputs) -> str:
    """sha256 hex (64 chars: fits JobRun.cache_key) over the job and its inputs."""
    digest = hashlib.sha256()
    digest.update(json.dumps(definition, sort_keys=True, default=str).encode())
    for item in cache.inputs:
        digest.update(b"\0" + item.encode() + b"=")
        digest.update(_input_value(item, inputs).encode())
    return digest.hexdigest()


def _input_value(item: str, inputs: CacheInputs) -> str:
    kind, _, arg = item.partition(":")
    if item == "day":
        timezone = ZoneInfo(inputs.context.config.scheduler.timezone)
        return inputs.now.astimezone(timezone).date().isoformat()
    if kind == "env":
        value = inputs.environ.get(arg)
        return "unset" if value is None else hashlib.sha256(value.encode()).hexdigest()
    if kind == "file":
        return _files_hash(inputs.workdir, arg)
    if kind == "git":
        return git_head(inputs.context, arg)
    raise CacheInputError(f"unknown cache input {item!r}")


def _files_hash(workdir: Path, pattern: str) -> str:
    digest = hashlib.sha256()
    base = Path(pattern).expanduser()
    if base.is_absolute():
        root, pattern = Path(base.anchor), str(base.relative_to(base.anchor))
    else:
        root = workdir
    matched = sorted(p for p in root.glob(pattern) if p.is_file())
    for path in matched:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{len(matched)}:{digest.hexdigest()}"


def git_head(context: Context, name: str) -> str:
    """The reviewed ref's commit of a configured repository (its clone, for a remote)
    — or HEAD of a path — found exactly as a review finds it."""
    try:
        target = resolve_target(context, name, allow_local=True)
        return resolve_ref(target.path, target.ref)
    except (ReviewFailed, GitError) as exc:
        raise CacheInputError(f"git:{name}: {exc}") from exc
