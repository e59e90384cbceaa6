"""Read-only git access through subprocesses.

Nothing here changes a user's work tree, index or refs: only object reads
(`cat-file`, `diff <a> <b>`, `ls-tree`, `rev-list`, `merge-base`). The writers,
`ensure_clone` and `checkout.check_out`, write only into opsdesk's own data directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from jobs.core.child_env import BASE_NAMES, DEFAULT_PATH
from jobs.core.text import duration

EMPTY_TREE_SHA1 = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
EMPTY_TREE_SHA256 = "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"
NETWORK_TIMEOUT_S = 600.0
LOCAL_TIMEOUT_S = 120.0
# A diff as git itself makes it, whatever the user's configuration says (no colour, no
# external diff or text conversion), renames detected, the usual a/ and b/ prefixes.
PLAIN_DIFF = (
    "diff",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "-M",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


class GitError(Exception):
    """A git operation failed; the message is meant for a human."""


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """git's environment: the minimal one plus git's, ssh's and proxy settings;
    never opsdesk's tokens."""
    env = {name: value for name, value in os.environ.items() if _for_git(name)}
    env.setdefault("PATH", DEFAULT_PATH)
    env.update(extra or {})
    env.update(
        GIT_TERMINAL_PROMPT="0",  # never wait for a password on a tty
        GIT_OPTIONAL_LOCKS="0",  # never refresh the user's index as a side effect
        LC_ALL="C",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
    )
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def _for_git(name: str) -> bool:
    upper = name.upper()
    return (
        name in BASE_NAMES
        or upper.startswith(("GIT_", "SSH_", "XDG_CONFIG"))
        or upper.endswith("_PROXY")
        or upper in ("SSL_CERT_FILE", "SSL_CERT_DIR", "USER")
    )


def _redact(text: str) -> str:
    """Hide credentials embedded in URLs (https://user:token@host)."""
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)


def git_command(repo: Path | None, *args: str) -> list[str]:
    """The command line of one git command, in `repo` when given."""
    command = ["git", "-c", "core.quotePath=false"]
    if repo is not None:
        command += ["-C", str(repo)]
    return command + list(args)


def run_git(
    repo: Path | None,
    *args: str,
    stdin: bytes | None = None,
    timeout: float = LOCAL_TIMEOUT_S,
    check: bool = True,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run one git command (in `repo` when given); raise GitError with git's stderr."""
    command = git_command(repo, *args)
    try:
        result = subprocess.run(
            command, input=stdin, capture_output=True, timeout=timeout, env=git_env(extra_env)
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed (no `git` on PATH)") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {args[0]} timed out after {duration(timeout * 1000)}") from exc
    if check and result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        if "not a git repository" in stderr:
            raise GitError(f"not a git repository: {repo}")
        raise GitError(_redact(f"git {args[0]} failed: {stderr or f'exit {result.returncode}'}"))
    return result


def _checked_repo(repo: Path) -> Path:
    if not repo.is_dir():
        raise GitError(f"not a git repository: {repo} (no such directory)")
    return repo


def resolve_ref(repo: Path, ref: str = "HEAD") -> str:
    """The commit sha `ref` names, from exactly one `git rev-parse` (git itself knows
    every ref store, revision syntax and worktree layout)."""
    repo = _checked_repo(repo)
    verify = ("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    result = run_git(repo, *verify, check=False)
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace")
        if "not a git repository" in stderr:
            raise GitError(f"not a git repository: {repo}")
        raise GitError(f"unknown ref {ref!r} in {repo}")
    return result.stdout.decode("ascii").strip()


def repository_root(path: Path) -> Path | None:
    """The repository `path` is in: its work tree's top directory (from any
    subdirectory), or the bare repository itself; None when it is in none."""
    if not path.is_dir():
        return None
    result = run_git(path, "rev-parse", "--is-bare-repository", "--absolute-git-dir", check=False)
    lines = result.stdout.decode("utf-8", "surrogateescape").splitlines()
    if result.returncode != 0 or len(lines) != 2:
        return None
    if lines[0] == "true":
        return Path(lines[1])
    top = run_git(path, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        return None
    return Path(top.stdout.decode("utf-8", "surrogateescape").strip())


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    """True when `ancestor` is reachable from `descendant` (history not rewritten)."""
    result = run_git(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False)
    if result.returncode in (0, 1):
        return result.returncode == 0
    stderr = result.stderr.decode("utf-8", "replace").strip()
    raise GitError(f"cannot compare {ancestor[:12]} and {descendant[:12]}: {stderr}")


def count_commits(repo: Path, base: str | None, head: str) -> int:
    """Commits in base..head (all commits up to head when base is None)."""
    spec = head if base is None else f"{base}..{head}"
    out = run_git(repo, "rev-list", "--count", spec, "--").stdout
    return int(out.decode("ascii").strip())


def renames(repo: Path, base: str, head: str) -> dict[str, str]:
    """Old path → new path of every file git sees renamed between two commits."""
    name_status = ("diff", "--no-color", "--no-ext-diff", "-M", "--name-status", "-z")
    out = run_git(repo, *name_status, base, head, "--").stdout
    # Paths as findings name them (see finding.display_path), as tree_sizes has them.
    fields = out.decode("utf-8", "replace").split("\0")
    moved: dict[str, str] = {}
    index = 0
    while index < len(fields) and fields[index]:
        status = fields[index]
        if status.startswith(("R", "C")):
            if status.startswith("R"):
                moved[fields[index + 1]] = fields[index + 2]
            index += 3
        else:
            index += 2
    return moved


def empty_tree(head_sha: str) -> str:
    return EMPTY_TREE_SHA256 if len(head_sha) == 64 else EMPTY_TREE_SHA1


def diff_text(repo: Path, base: str | None, head: str) -> str:
    """Unified diff base → head (-U3, renames detected). With base None the diff is
    against the empty tree, so a full review takes the same code path as a delta."""
    old = empty_tree(head) if base is None else base
    out = run_git(repo, *PLAIN_DIFF, "-U3", old, head, "--").stdout
    return out.decode("utf-8", "replace")


def tree_sizes(repo: Path, sha: str) -> dict[str, int]:
    """Every blob in the commit's tree with its size in bytes (`git ls-tree -r -l`)."""
    out = run_git(repo, "ls-tree", "-r", "-l", "-z", sha).stdout
    sizes: dict[str, int] = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) == 4 and fields[1] == b"blob":
            sizes[path.decode("utf-8", "replace")] = int(fields[3])
    return sizes


_FETCH_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def ensure_clone(url: str, dest_dir: Path, timeout: float = NETWORK_TIMEOUT_S) -> Path:
    """A bare clone of `url` at `dest_dir` (inside opsdesk's data dir): cloned on the
    first call, fetched (branches and tags, pruned) on later ones. Returns dest_dir."""
    if url.startswith("-"):
        raise GitError(f"refusing a repository URL that starts with '-': {url!r}")
    if dest_dir.exists():
        if repository_root(dest_dir) != dest_dir.resolve():
            raise GitError(f"{dest_dir} exists and is not a git clone; remove it or pick another")
        fetch = ("fetch", "--prune", "--quiet", "--", url, *_FETCH_REFSPECS)
        try:
            run_git(dest_dir, *fetch, timeout=timeout)
        except GitError as exc:
            raise GitError(_redact(f"cannot fetch {url}: {exc}")) from exc
        return dest_dir
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    # Clone beside the destination and rename, so an interrupted clone leaves nothing
    # that a later call would mistake for a good one.
    staging = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.", dir=dest_dir.parent))
    clone = ("clone", "--bare", "--quiet", "--", url, str(staging / "repo"))
    try:
        run_git(None, *clone, timeout=timeout)
        (staging / "repo").rename(dest_dir)
    except GitError as exc:
        raise GitError(_redact(f"cannot clone {url}: {exc}")) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest_dir
