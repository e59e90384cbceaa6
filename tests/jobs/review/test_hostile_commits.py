"""A commit is untrusted data: its links, submodules, oversized files and linter
configs never make opsdesk (or a linter) read or write outside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from jobs.config.schema import Config
from jobs.review.bounded_diff import bounded_diff
from jobs.review.checkout import check_out
from jobs.review.lint.configs import reads_external_sources
from jobs.review.objects import MB, SUBMODULE, SYMLINK
from jobs.review.targets import ReviewFailed
from tests.support.git_repo import Repo
from tests.support.hostile import LINKS, OUTSIDE_SECRET, commit_hostile_links, link, outside
from tests.support.reviews import config_for, review


def tree_contents(root: Path) -> tuple[set[str], list[str]]:
    """(regular files, anything else: links, FIFOs …) under root, the .git marker aside."""
    files, others = set(), []
    for current, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not (current == str(root) and d == ".git")]
        for name in [*dirs, *names]:
            path = Path(current, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                others.append(rel)
            elif path.is_file():
                files.add(rel)
    return files, others


def test_a_checkout_materialises_no_link_submodule_or_oversized_file(
    git_repo: Repo, tmp_path: Path
) -> None:
    place = outside(tmp_path)
    head = commit_hostile_links(git_repo, place, big_bytes=MB + 1)
    checkout = check_out(git_repo.path, head, tmp_path / "scratch", max_file_bytes=MB)
    files, others = tree_contents(checkout.root)
    assert files == {"README.md", "app.py"} == set(checkout.files)
    assert others == []
    skipped = dict(checkout.skipped)
    assert {p for p, r in skipped.items() if r == SYMLINK} == LINKS
    assert skipped["vendored-sub"] == SUBMODULE
    assert skipped["big.py"] == "larger than 1 MB"
    assert not place.created.exists() and not any(place.directory.iterdir())


def test_a_link_left_in_a_reused_checkout_is_replaced_never_written_through(
    git_repo: Repo, tmp_path: Path
) -> None:
    head = git_repo.commit("one", **{"app.py": "x = 1\n", "pkg/mod.py": "y = 2\n"})
    scratch = tmp_path / "scratch"
    root = check_out(git_repo.path, head, scratch).root
    target = tmp_path / "victim.py"
    target.write_text("untouched\n")
    (root / "app.py").unlink()
    os.symlink(target, root / "app.py")  # something put links where files were
    (root / "pkg" / "mod.py").unlink()
    (root / "pkg").rmdir()
    os.symlink(tmp_path, root / "pkg")
    check_out(git_repo.path, head, scratch)
    assert (root / "app.py").read_text() == "x = 1\n" and not (root / "app.py").is_symlink()
    assert not (root / "pkg").is_symlink() and (root / "pkg" / "mod.py").read_text() == "y = 2\n"
    assert target.read_text() == "untouched\n" and not (tmp_path / "mod.py").exists()


def test_a_lint_review_lists_each_link_and_reads_nothing_outside(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    place = outside(tmp_path)
    commit_hostile_links(git_repo, place, big_bytes=MB + 1)
    shellcheck = {"name": "shellcheck", "preset": "shellcheck"}
    config = config_for(git_repo, max_file_mb=1, lint={"select": ["F"], "linters": [shellcheck]})
    result = review(engine, config, tmp_path / "data")
    assert [(f.path, f.category) for f in result.findings] == [("app.py", "F401")]
    assert not any(OUTSIDE_SECRET in f.message for f in result.findings)
    reasons = {s.path: s.reason for s in result.skipped_files}
    assert {p for p, r in reasons.items() if r == SYMLINK} == LINKS
    assert reasons["vendored-sub"] == SUBMODULE and reasons["big.py"] == "larger than 1 MB"
    assert not place.created.exists() and not any(place.directory.iterdir())


HOSTILE_RUFF_CONFIGS = {
    "absolute extend": ("ruff.toml", 'extend = "/etc/passwd"\n', "extend"),
    "extend up and out": ("pkg/ruff.toml", 'extend = "../../../x.toml"\n', "extend"),
    "extend from home": (".ruff.toml", 'extend = "~/.config/ruff/ruff.toml"\n', "extend"),
    "extend through a variable": ("ruff.toml", 'extend = "$HOME/x.toml"\n', "extend"),
    "pyproject extend": ("pyproject.toml", '[tool.ruff]\nextend = "/etc/hostname"\n', "extend"),
    "src outside": ("ruff.toml", 'src = [".", "/etc"]\n', "src"),
    "cache outside": ("ruff.toml", 'cache-dir = "/tmp/opsdesk-cache"\n', "cache-dir"),
}


@pytest.mark.parametrize("case", HOSTILE_RUFF_CONFIGS, ids=list(HOSTILE_RUFF_CONFIGS))
def test_a_ruff_config_that_points_outside_is_refused_by_name(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path, case: str
) -> None:
    path, content, key = HOSTILE_RUFF_CONFIGS[case]
    git_repo.commit("hostile config", **{path: content, "app.py": "import os\n"})
    with pytest.raises(ReviewFailed) as failed:
        review(sqlite_engine, config_for(git_repo), tmp_path / "data")
    reason = failed.value.reason
    assert f"{path}: {key} = " in reason and "points outside the repository" in reason
    assert "TOML parse error" not in reason and "No such file" not in reason


def test_a_ruff_config_extending_one_inside_the_repository_is_used(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    files = {
        "ruff.toml": 'extend = "configs/base.toml"\n',
        "configs/base.toml": '[lint]\nselect = ["E711"]\n',
        "app.py": "import os\nx = os.sep == None\n",
    }
    git_repo.commit("shared config", **files)
    config = Config.model_validate({"repos": [{"name": "demo", "path": str(git_repo.path)}]})
    result = review(sqlite_engine, config, tmp_path / "data")
    assert [(f.path, f.category) for f in result.findings] == [("app.py", "E711")]


def test_an_extended_config_may_not_extend_further_out(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    files = {
        "ruff.toml": 'extend = "configs/base.toml"\n',
        "configs/base.toml": 'extend = "/etc/passwd"\n',
        "app.py": "x = 1\n",
    }
    git_repo.commit("chain", **files)
    with pytest.raises(ReviewFailed, match=r"configs/base.toml: extend = '/etc/passwd' points"):
        review(sqlite_engine, config_for(git_repo), tmp_path / "data")


SHELLCHECK = {"select": ["F"], "linters": [{"name": "shellcheck", "preset": "shellcheck"}]}
HOSTILE_SHELLCHECK = {
    "rc source-path": ({".shellcheckrc": "source-path=/etc\n"}, ".shellcheckrc: source-path"),
    "rc source": ({"dir/.shellcheckrc": "source=/dev/zero\n"}, "dir/.shellcheckrc: source"),
    "rc without the dot": ({"shellcheckrc": "source-path=/etc\n"}, "shellcheckrc: source-path"),
    "directive with external sources": (
        {
            ".shellcheckrc": "external-sources=true\n",
            "run.sh": "#!/bin/sh\n# shellcheck source=/dev/zero\n. ./lib.sh\n",
        },
        "run.sh: source",
    ),
    "source command with external sources": (
        {".shellcheckrc": "external-sources=true\n", "run.sh": "#!/bin/sh\n. /etc/hostname\n"},
        "run.sh: source",
    ),
    # As shellcheck 0.11 reads its settings (each case followed by it when tried):
    # several a line, quoted, with a comment, and relative to the checkout's root.
    "rc: two settings a line": (
        {".shellcheckrc": "external-sources=true disable=SC2034 source-path=/etc\n"},
        ".shellcheckrc: source-path",
    ),
    "rc: quoted": ({".shellcheckrc": 'source-path="/etc"\n'}, ".shellcheckrc: source-path"),
    "rc: single-quoted, a comment after": (
        {".shellcheckrc": "  source-path='/etc'   # shared\n"},
        ".shellcheckrc: source-path",
    ),
    "rc in a subdirectory: relative to the root": (
        {"sub/.shellcheckrc": "source-path=..\n"},
        "sub/.shellcheckrc: source-path",
    ),
    "directive: quoted": (
        {
            ".shellcheckrc": "external-sources=true\n",
            "run.sh": '#!/bin/sh\n# shellcheck source="/etc/hostname"\n. ./lib.sh\n',
        },
        "run.sh: source",
    ),
    "directive: source-path, no blank after #": (
        {
            ".shellcheckrc": "external-sources=true\n",
            "run.sh": "#!/bin/sh\n#shellcheck source-path=/etc\n. hostname\n",
        },
        "run.sh: source-path",
    ),
    "directive: after another setting": (
        {
            ".shellcheckrc": "external-sources=true\n",
            "run.sh": "#!/bin/sh\n# shellcheck disable=SC1091 source=/etc/hostname\n. ./x\n",
        },
        "run.sh: source",
    ),
    "directive in a subdirectory: relative to the root": (
        {
            ".shellcheckrc": "external-sources=true\n",
            "sub/run.sh": "#!/bin/sh\n# shellcheck source-path=..\n. lib.sh\n",
        },
        "sub/run.sh: source-path",
    ),
    "source after a semicolon": (
        {
            ".shellcheckrc": "external-sources=true\n",
            "run.sh": "#!/bin/sh\ntrue; . /etc/hostname\n",
        },
        "run.sh: source",
    ),
    "source inside an if": (
        {
            ".shellcheckrc": "external-sources=true\n",
            "run.sh": "#!/bin/bash\nif true; then source '/etc/hostname'; fi\n",
        },
        "run.sh: source",
    ),
    "source in a subdirectory: relative to the root": (
        {".shellcheckrc": "external-sources=true\n", "sub/run.sh": "#!/bin/sh\n. ../lib.sh\n"},
        "sub/run.sh: source",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_SHELLCHECK, ids=list(HOSTILE_SHELLCHECK))
def test_a_shellcheck_setting_that_reaches_outside_is_refused_by_name(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path, case: str
) -> None:
    files, named = HOSTILE_SHELLCHECK[case]
    git_repo.commit("hostile", **{"ok.sh": "#!/bin/sh\necho hi\n", **files})
    with pytest.raises(ReviewFailed) as failed:
        review(sqlite_engine, config_for(git_repo, lint=SHELLCHECK), tmp_path / "data")
    assert named in failed.value.reason and "points outside the repository" in failed.value.reason


def test_shellcheck_sources_inside_the_repository_and_dev_null_are_fine(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    files = {
        ".shellcheckrc": "external-sources=true\nsource-path=SCRIPTDIR\n",
        "lib.sh": "#!/bin/sh\nx=1\n",
        "run.sh": (
            '#!/bin/sh\n. ./lib.sh\necho "$x"\n# shellcheck source=/dev/null\n. "$HOME/.env"\n'
        ),
    }
    git_repo.commit("fine", **files)
    result = review(sqlite_engine, config_for(git_repo, lint=SHELLCHECK), tmp_path / "data")
    assert not [f for f in result.findings if f.path == "run.sh" and f.category == "SC2154"]


def test_shellcheck_paths_that_stay_inside_are_fine_however_written(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    files = {
        ".shellcheckrc": "external-sources=true  source-path='SCRIPTDIR'  # beside each\n",
        "lib/vars.sh": "#!/bin/sh\nx=1\n",
        "bin/run.sh": (
            '#!/bin/sh\n# shellcheck source="lib/vars.sh"\n. "$(dirname "$0")/../lib/vars.sh"\n'
            'echo "$x"\n. ~/.profile_extra\nif true; then . ./lib/vars.sh; fi\n'
        ),
    }
    git_repo.commit("fine", **files)
    result = review(sqlite_engine, config_for(git_repo, lint=SHELLCHECK), tmp_path / "data")
    assert not [f for f in result.findings if f.category == "SC2154"]


def test_external_sources_on_the_command_line_are_seen_among_short_flags() -> None:
    assert reads_external_sources(["shellcheck", "-x"])
    assert reads_external_sources(["shellcheck", "-ax", "-f", "checkstyle"])
    assert reads_external_sources(["shellcheck", "--external-sources"])
    assert not reads_external_sources(["shellcheck", "--format=checkstyle", "-a"])


def test_a_diff_part_over_the_limit_is_dropped_and_named(git_repo: Repo) -> None:
    base = git_repo.commit("base", **{"small.py": "x = 1\n"})
    # 96,000 bytes: within the file limit, but its diff (a "+" a line) is not.
    head = git_repo.commit("big", **{"big.py": "y = 2\n" * 16_000, "small.py": "x = 2\n"})
    diff = bounded_diff(git_repo.path, base, head, max_file_bytes=100 * 1024, max_total_bytes=MB)
    assert "small.py" in diff.text and "big.py" not in diff.text
    (header, reason), *more = diff.dropped
    assert more == [] and "big.py" in header and reason == "larger than 100 KB"
    diff = bounded_diff(git_repo.path, None, head, max_file_bytes=MB, max_total_bytes=50)
    assert diff.text == "" and {r for _, r in diff.dropped} == {"diff larger than 0.0488 KB in all"}
    assert len(diff.dropped) == 2


def test_a_model_never_sees_a_file_over_the_limit_nor_a_link(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path, model_server: object
) -> None:
    from tests.standins.model_server import ModelServer
    from tests.support.reviews import llm_config

    assert isinstance(model_server, ModelServer)
    git_repo.commit("base", **{"README.md": "demo\n"})
    link(git_repo, "leak.py", "/etc/passwd")
    git_repo.commit("change", **{"big.py": "y = 2\n" * 200_000, "app.py": "import os\n"})
    llm = llm_config(git_repo, model_server).reviewer.llm.model_dump()
    config = config_for(git_repo, default="llm", llm=llm, max_file_mb=1)
    result = review(sqlite_engine, config, tmp_path / "data")
    reasons = {s.path: s.reason for s in result.skipped_files}
    assert reasons["big.py"] == "larger than 1 MB" and reasons["leak.py"] == SYMLINK
    sent = "".join(m["content"] for r in model_server.received for m in r.body["messages"])
    assert "app.py" in sent and "big.py" not in sent and "leak.py" not in sent
