"""What a branch or a pull request adds: its head, the base branch it is compared with,
and their merge base — read from the repository, or for a pull/merge request fetched
from the host's ref namespace into opsdesk's own clone.

A branch name and a request number come from chat: they are checked as git checks a
branch name before any git command sees them, and only refs under `refs/heads/`,
`refs/remotes/` and the request namespaces are ever read.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from jobs.review import git

MAX_BRANCH_NAME = 200
MAX_REQUEST_NUMBER = 10**9
# Where hosts keep a request's head: GitHub, Gitea and Forgejo; GitLab.
PULL_NAMESPACE = "refs/pull/{n}/head"
MERGE_REQUEST_NAMESPACE = "refs/merge-requests/{n}/head"
# Fetched requests live here in opsdesk's clone, apart from the branches it mirrors.
FETCHED_REQUEST = "refs/opsdesk/requests/{n}"
_REQUEST = re.compile(r"[#!]([0-9]{1,10})")  # GitHub's #123, GitLab's !123


class UnknownBranch(Exception):
    """The branch or request is not in the repository; the message names the closest."""


@dataclass(frozen=True)
class BranchHead:
    """What to review: `label` as people name it (`feature/x`, `#123`), its head
    commit, the base branch and the merge base of the two."""

    label: str
    head_sha: str
    base_label: str
    merge_base: str


def parse_request(text: str) -> int | None:
    """`#123` (or GitLab's `!123`) → 123; None when the text is not a request (a bare
    number is a branch name: branches may be named so)."""
    match = _REQUEST.fullmatch(text.strip())
    if match is None:
        return None
    number = int(match[1])
    return number if 0 < number <= MAX_REQUEST_NUMBER else None


def check_branch_name(name: str) -> str:
    """A branch name as git allows one (`git check-ref-format --branch`); never an
    option or a revision expression."""
    if not name or len(name) > MAX_BRANCH_NAME or name.startswith("-"):
        raise UnknownBranch(f"{name[:60]!r} is not a branch name")
    result = git.run_git(None, "check-ref-format", "--branch", name, check=False)
    if result.returncode != 0 or any(c in name for c in "~^:?*[\\ ") or "@{" in name:
        raise UnknownBranch(f"{name[:60]!r} is not a branch name")
    return name


def branch_commit(repo: Path, name: str) -> str:
    """The commit branch `name` points at: a local branch, else a remote-tracking one
    (`origin/name`). UnknownBranch names the closest branches."""
    check_branch_name(name)
    for ref in (f"refs/heads/{name}", f"refs/remotes/origin/{name}", f"refs/remotes/{name}"):
        sha = _commit_of(repo, ref)
        if sha is not None:
            return sha
    raise UnknownBranch(f"no branch {name!r}{_closest(name, branch_names(repo))}")


def branch_names(repo: Path) -> list[str]:
    """Local and remote-tracking branch names (`origin/` left off)."""
    listed = git.run_git(
        repo, "for-each-ref", "--format=%(refname)", "refs/heads/", "refs/remotes/"
    ).stdout.decode("utf-8", "replace")
    names = []
    for ref in listed.splitlines():
        name = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/origin/")
        if not name.endswith("/HEAD"):
            names.append(name.removeprefix("refs/remotes/"))
    return list(dict.fromkeys(names))


def request_commit(repo: Path, number: int, url: str | None) -> str:
    """The head commit of pull/merge request `number`. A remote repository (`url`) has
    it fetched from the host's namespace into opsdesk's clone; a local one has it when
    its refs hold it (a bare mirror, or `git fetch origin 'refs/pull/*'`)."""
    namespaces = [PULL_NAMESPACE, MERGE_REQUEST_NAMESPACE]
    if url is not None and "gitlab" in (urlsplit(url).hostname or ""):
        namespaces.reverse()
    for namespace in namespaces:
        ref = namespace.format(n=number)
        if url is None:
            sha = _commit_of(repo, ref)
        else:
            sha = _fetched(repo, url, ref, FETCHED_REQUEST.format(n=number))
        if sha is not None:
            return sha
    known = _request_numbers(repo, url)
    nearest = sorted(known, key=lambda n: (abs(n - number), n))[:3]
    hint = f" (nearest: {', '.join(f'#{n}' for n in sorted(nearest))})" if nearest else ""
    where = "at its host" if url else "in its refs (refs/pull/N/head)"
    raise UnknownBranch(f"no pull or merge request #{number} {where}{hint}")


def branch_head(repo: Path, head_sha: str, label: str, base: str) -> BranchHead:
    """`label`'s head against branch `base` (a name, or the configured ref as is)."""
    base_sha = _base_commit(repo, base)
    result = git.run_git(repo, "merge-base", head_sha, base_sha, check=False)
    if result.returncode != 0:
        raise UnknownBranch(f"{label} shares no history with {base}")
    merge_base = result.stdout.decode("ascii").strip()
    return BranchHead(label, head_sha, base.removeprefix("refs/heads/"), merge_base)


def _base_commit(repo: Path, base: str) -> str:
    if base == "HEAD" or base.startswith("refs/"):
        try:
            return git.resolve_ref(repo, base)
        except git.GitError:
            raise UnknownBranch(f"no base {base!r} in the repository") from None
    return branch_commit(repo, base)


def _commit_of(repo: Path, ref: str) -> str | None:
    try:
        return git.resolve_ref(repo, ref)
    except git.GitError:
        return None


def _fetched(repo: Path, url: str, ref: str, into: str) -> str | None:
    fetch = ("fetch", "--quiet", "--no-tags", "--", url, f"+{ref}:{into}")
    result = git.run_git(repo, *fetch, timeout=git.NETWORK_TIMEOUT_S, check=False)
    return _commit_of(repo, into) if result.returncode == 0 else None


def _request_numbers(repo: Path, url: str | None) -> list[int]:
    """Request numbers the repository (or its host) has, for naming the nearest."""
    patterns = ("refs/pull/*/head", "refs/merge-requests/*/head")
    if url is None:
        listing = git.run_git(repo, "for-each-ref", "--format=%(refname)", "refs/pull/",
                              "refs/merge-requests/", check=False)  # fmt: skip
        refs = listing.stdout.decode("utf-8", "replace").split()
    else:
        listing = git.run_git(repo, "ls-remote", "--", url, *patterns,
                              timeout=git.NETWORK_TIMEOUT_S, check=False)  # fmt: skip
        refs = [
            line.split("\t")[-1] for line in listing.stdout.decode("utf-8", "replace").splitlines()
        ]
    numbers = [int(part) for ref in refs for part in ref.split("/")[2:3] if part.isdigit()]
    return sorted(set(numbers))


def _closest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if close:
        return f" (closest: {', '.join(close)})"
    if names:
        return f" (branches: {', '.join(sorted(names)[:5])}{' …' if len(names) > 5 else ''})"
    return ""
