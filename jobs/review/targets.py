"""What a review is of: a configured repository by name, or (CLI, console) a local
path; resolved without the review machinery, so result caching can read a
repository's commit as a review would."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from jobs.config.schema import Config, LinterConfig, RepoConfig, RepoLintConfig
from jobs.context import Context
from jobs.core.text import closest
from jobs.review import git
from jobs.review.scratch import clone_dir

LOCAL_PREFIX = "local:"


# reviews.repo holds 100 characters, job_runs.job 100 with "review:" before the name.
MAX_REPO_NAME = 100 - len("review:")


class ReviewFailed(Exception):
    """The review could not be made; `reason` is specific and meant for a human.
    No review row was written: the earlier cached review stays as it was.
    `tokens_in`/`tokens_out`: what the model calls made before the failure cost;
    `model` and `duration_ms` what its failed run row says."""

    def __init__(
        self,
        repo: str,
        reason: str,
        run_id: int | None = None,
        tokens: tuple[int, int] = (0, 0),
        model: str | None = None,
        duration_ms: int | None = None,
    ) -> None:
        super().__init__(f"review of {repo} failed: {reason}")
        self.repo, self.reason, self.run_id = repo, reason, run_id
        self.tokens_in, self.tokens_out = tokens
        self.model, self.duration_ms = model, duration_ms


class UnknownRepo(ReviewFailed):
    """The name is not a configured repository (nor an allowed local path); `close`
    is the configured one it most likely misspells."""

    def __init__(self, repo: str, reason: str, close: str | None = None) -> None:
        super().__init__(repo, reason)
        self.close = close


@dataclass(frozen=True)
class RepoTarget:
    name: str  # the configured name, or "local:<absolute path>"
    path: Path  # the work tree or bare repository git reads
    ref: str
    url: str | None = None
    reviewer: str | None = None  # lint | llm; None: config.reviewer.default
    linters: tuple[LinterConfig, ...] = ()  # the repository's own, beside the global ones
    lint: RepoLintConfig | None = None  # the repository's own lint scope ([repos.lint])


def resolve_target(context: Context, target: str, *, allow_local: bool) -> RepoTarget:
    """A configured repository by name; with `allow_local` (CLI, console) also a path:
    the repository it is in (`opsdesk review .` from a subdirectory reviews it all)."""
    config = context.config
    repo = config.repo(target)
    if repo is not None:
        return _configured(repo, context.data_dir)
    path = _local_path(target) if allow_local else None
    if path is not None and (path.is_dir() or "/" in target or target.startswith(".")):
        root = git.repository_root(path.resolve()) if path.is_dir() else None
        if root is None:
            raise UnknownRepo(target, f"{target} is not a git repository")
        return RepoTarget(name=local_name(root), path=root, ref="HEAD")
    raise not_configured(config, target)


def not_configured(config: Config, target: str) -> UnknownRepo:
    """Why `target` is no configured repository, with the one it likely misspells."""
    if not config.repos:
        return UnknownRepo(
            target,
            f"unknown repository {target!r}: none is configured yet "
            "(add a [[repos]] entry with its name and path to opsdesk.toml)",
        )
    names = [r.name for r in config.repos]
    close = closest(target, names)
    meant = f" — did you mean {close}?" if close else ""
    reason = f"unknown repository {target!r}{meant} (configured: {', '.join(names)})"
    return UnknownRepo(target, reason, close)


def local_name(path: Path) -> str:
    """`local:<absolute path>`; a path too long for a name keeps its tail and a hash
    of the whole, so two long paths never share a history."""
    name = f"{LOCAL_PREFIX}{path}"
    if len(name) <= MAX_REPO_NAME:
        return name
    digest = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:16]
    head = f"{LOCAL_PREFIX}{digest}:…"
    return head + str(path)[-(MAX_REPO_NAME - len(head)) :]


def _local_path(target: str) -> Path:
    try:
        return Path(target).expanduser()
    except RuntimeError:  # ~nosuchuser: no home directory to expand to
        raise UnknownRepo(target, f"{target} is not a git repository (no such user)") from None


def _configured(repo: RepoConfig, data_dir: Path) -> RepoTarget:
    """A remote is read from its clone in the data directory, a path where it is."""
    if repo.url is not None:
        path = clone_dir(data_dir, repo.name)
    else:
        assert repo.path is not None
        path = Path(repo.path).expanduser()
    linters = tuple(repo.linters)
    return RepoTarget(repo.name, path, repo.branch, repo.url, repo.reviewer, linters, repo.lint)
