"""shellcheck on only what changed: night after night the open findings equal one
whole run of real shellcheck in a fresh clone, through a change of a sourced script,
of a .shellcheckrc (at the root and in a directory) and of shellcheck's version,
while unchanged scripts, and those whose sources are unchanged, are not linted again."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from jobs.review.lint.configs import sourced_names
from jobs.review.lint.results_cache import RESULTS_FILE, ResultCache
from jobs.review.scratch import checkout_dir
from tests.support.git_repo import Repo
from tests.support.oracles import shellcheck_oracle, shellcheck_program
from tests.support.reviews import Reviews, lint_config, open_set

SCRIPTS = {
    "a.sh": "#!/bin/sh\necho $1\nls $HOME/*.txt\n",
    "b.sh": "#!/bin/bash\nfor f in $(ls); do echo $f; done\n",
    # main.sh sources lib.sh, which sources deep.sh: shellcheck follows both.
    "deep.sh": "#!/bin/sh\n# shellcheck disable=SC2034\ndepth=1\n",
    "lib.sh": "#!/bin/sh\n. ./deep.sh\n# shellcheck disable=SC2034\ngreeting=hello\n",
    "main.sh": '#!/bin/sh\n. ./lib.sh\necho "$greeting" "$depth" $2\n',
    # shellcheck follows this one as ./deep.sh.
    "dyn.sh": '#!/bin/sh\n. "$(dirname "$0")/deep.sh"\necho "$depth" $1\n',
    "sub/x.sh": "#!/bin/sh\ncd /tmp\necho $PWD $3\n",
    # Sources what shellcheck cannot resolve (SC1090): depends on itself alone.
    "plugins.sh": '#!/bin/sh\nfor p in "$@"; do . "$p"; done\necho $1\n',
    # Sources a script that is not there yet (SC1091), until it is.
    "waits.sh": '#!/bin/sh\n. ./later.sh\necho "$later" $1\n',
}


def wrapper(directory: Path, version: str) -> Path:
    """A `shellcheck` that logs its inputs, then runs the real one."""
    program = directory / "shellcheck"
    program.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = --version ]; then echo "{version}"; exit 0; fi\n'
        f'printf "%s\\n" "$*" >> "{directory}/inputs.log"\n'
        f'exec "{shellcheck_program()}" "$@"\n'
    )
    program.chmod(0o755)
    return program


@pytest.fixture
def shell(engine: Engine, git_repo: Repo, tmp_path: Path) -> tuple[Reviews, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = wrapper(bin_dir, "ShellCheck 0.11.0 (wrapped)")
    linter = {
        "name": "shellcheck",
        "preset": "shellcheck",
        "command": [str(program), "-f", "checkstyle"],
    }
    return Reviews(engine, lint_config(git_repo, [linter]), tmp_path / "data"), bin_dir


def linted(bin_dir: Path) -> set[str]:
    """The scripts the last shellcheck run was given."""
    log = bin_dir / "inputs.log"
    lines = log.read_text().splitlines() if log.exists() else [""]
    log.unlink(missing_ok=True)
    return {arg.removeprefix("./") for arg in lines[-1].split() if arg.startswith("./")}


def test_only_changed_scripts_are_linted_and_the_findings_stay_a_whole_runs(
    engine: Engine, git_repo: Repo, tmp_path: Path, shell: tuple[Reviews, Path]
) -> None:
    reviews, bin_dir = shell

    def night(message: str, expected_inputs: set[str], **files: str) -> None:
        git_repo.commit(message, **files)
        result = reviews()
        assert open_set(engine, result) == shellcheck_oracle(git_repo, tmp_path), message
        assert linted(bin_dir) == expected_inputs, message

    chain = {"main.sh", "lib.sh", "deep.sh", "dyn.sh"}
    night("first", set(SCRIPTS), **SCRIPTS)
    night("a.sh changes", {"a.sh"}, **{"a.sh": "#!/bin/sh\necho $1 $2\n"})
    # What main.sh reads through lib.sh is gone: main.sh's findings change, unchanged.
    night("deep.sh changes", chain, **{"deep.sh": "#!/bin/sh\nheight=2\nexport height\n"})
    lib = "#!/bin/sh\n. ./deep.sh\nfarewell=bye\nexport farewell\n"
    night("lib.sh changes", chain - {"dyn.sh"}, **{"lib.sh": lib})
    night("a new script", {"c.sh"}, **{"c.sh": "#!/bin/sh\necho $1\n"})
    # waits.sh, unchanged, follows later.sh now that the tree holds it.
    later = {"later.sh": "#!/bin/sh\nlater=1\nexport later\n"}
    night("later.sh arrives", {"waits.sh", "later.sh"}, **later)
    everything = set(SCRIPTS) | {"c.sh", "later.sh"}
    night("root rc", everything, **{".shellcheckrc": "disable=SC2086\n"})
    night("nothing shell", set(), **{"README": "docs\n"})
    night("rc in sub/", everything, **{"sub/.shellcheckrc": "disable=SC2164\n"})
    night("rc named without a dot", everything, **{"shellcheckrc": "disable=SC2046\n"})
    wrapper(bin_dir, "ShellCheck 0.11.1 (wrapped, upgraded)")
    night("upgraded shellcheck", everything, **{"README": "docs again\n"})
    # Back to the scripts of a commit linted before: every result is kept.
    git_repo.git("reset", "-q", "--hard", "HEAD~1")
    git_repo.commit("same scripts as before the upgrade, after it", **{"README": "docs 3\n"})
    assert open_set(engine, reviews()) == shellcheck_oracle(git_repo, tmp_path)
    assert linted(bin_dir) == set()


def test_the_results_cache_is_bounded_and_an_unreadable_one_starts_afresh(
    tmp_path: Path,
) -> None:
    path = tmp_path / RESULTS_FILE
    cache = ResultCache(path, max_entries=3)
    for n in range(5):
        cache.put_many({f"k{n}": []})
    assert set(cache.get_many(f"k{n}" for n in range(5))) == {"k2", "k3", "k4"}
    path.write_bytes(b"this is not a database" * 100)
    assert cache.get_many(["k4"]) == {}
    cache.put_many({"k5": []})
    assert set(cache.get_many(["k5"])) == {"k5"}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM results").fetchone() == (1,)


def test_the_results_live_beside_the_repositorys_checkout(
    git_repo: Repo, tmp_path: Path, shell: tuple[Reviews, Path]
) -> None:
    reviews, _bin = shell
    git_repo.commit("scripts", **SCRIPTS)
    reviews()
    kept = checkout_dir(tmp_path / "data", "demo") / RESULTS_FILE
    with sqlite3.connect(kept) as db:  # one for each script
        assert db.execute("SELECT count(*) FROM results").fetchone() == (len(SCRIPTS),)
    assert not os.path.exists(tmp_path / "data" / "checkouts" / "demo" / "tree" / RESULTS_FILE)


@pytest.mark.parametrize(
    ("script", "names"),
    [
        ('. ./lib.sh\nsource "lib/common.bash"\n', {"lib.sh", "common.bash"}),
        ('. "$DIR/helpers.bash"\n', {"helpers.bash"}),  # the directory shellcheck may resolve
        ('. "$plugin"\nsource "${BASH_IT}/$file"\n', set()),  # nothing it could follow
        ('. "$(dirname "$0")/x.sh"\n', {"x.sh"}),  # shellcheck 0.11 follows it as ./x.sh
        ('# shellcheck source=vendor/real.sh\n. "$dynamic"\n', {"real.sh"}),
        (
            "echo done; . ./after.sh\nif true; then source ./inner.sh; fi\n",
            {"after.sh", "inner.sh"},
        ),
        ("echo hello\n", set()),
    ],
)
def test_the_names_a_script_may_make_shellcheck_follow(script: str, names: set[str]) -> None:
    assert sourced_names(f"#!/bin/sh\n{script}") == names
