"""Findings lead to the code, at the router: the path and line as code, the rule with
its documentation, the line on the code host at the reviewed commit (from the
repository's remote, or none without one), the code itself, and the most severe
first — in /review, /findings and the message a press redraws."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from jobs.core.reply import Block, Reply
from jobs.review.feedback import mark_shown
from tests.support.feedback import DANA, config_for, listed_findings, router_for
from tests.support.git_repo import Repo

SOURCE = "import os\n\n\ndef main():\n    return undefined_name\n"


def _finding_blocks(reply: Reply) -> list[Block]:
    keys = listed_findings(reply)
    return [b for b in reply.blocks if b.key in keys]


def _links(block: Block) -> dict[str, str]:
    return {span.text: span.url for span in block.spans if span.style == "link"}


def test_a_finding_shows_its_place_rule_code_and_line_on_github(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.git("remote", "add", "origin", "git@github.com:team/demo.git")
    sha = git_repo.commit("two problems", **{"src/_impl.py": SOURCE})
    router = router_for(engine, config_for(git_repo), tmp_path)
    review = router.handle(DANA, "/review demo")
    undefined, unused = _finding_blocks(review)
    # Broken code first (an undefined name), then the unused import.
    assert undefined.text.startswith("🔴 Undefined name undefined_name\n")
    assert unused.text.startswith("🟠 os imported but unused\n")
    assert [s.text for s in undefined.spans if s.style == "code"] == [
        "undefined_name",
        "src/_impl.py:5",
    ]
    assert _links(undefined) == {
        "F821 undefined-name": "https://docs.astral.sh/ruff/rules/undefined-name",
        "GitHub": f"https://github.com/team/demo/blob/{sha}/src/_impl.py#L5",
    }
    assert [s.text for s in undefined.spans if s.style == "pre"] == ["return undefined_name"]
    assert [s.text for s in unused.spans if s.style == "pre"] == ["import os"]

    listed = router.handle(DANA, "/findings demo")
    assert [_links(b) for b in _finding_blocks(listed)] == [
        _links(undefined),
        _links(unused),
    ]

    finding_id = int(str(unused.key).removeprefix("finding:"))
    mark_shown(engine, "telegram:-100", [finding_id])
    redrawn = router.press(DANA, f"fb:{finding_id}:h").blocks[0]
    assert _links(redrawn) == _links(unused)
    assert redrawn.text.endswith("👍 Helpful — marked by Dana")
    assert not any(b.label.startswith("✓") for b in redrawn.buttons)  # nobody's tick on a button


def test_without_a_web_address_a_finding_has_no_host_link(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("one problem", **{"app.py": "import os\n"})
    review = router_for(engine, config_for(git_repo), tmp_path).handle(DANA, "/review demo")
    [block] = _finding_blocks(review)
    assert _links(block) == {
        "F401 unused-import": "https://docs.astral.sh/ruff/rules/unused-import"
    }
    assert "`app.py:1`" not in block.text  # the plain text carries no markup
    assert "\napp.py:1 · F401 unused-import" in block.text


def test_a_configured_web_url_and_host_kind_make_the_link(
    engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    sha = git_repo.commit("one problem", **{"app.py": "import os\n"})
    config = config_for(git_repo)
    repo = config.repos[0].model_copy(
        update={"web_url": "https://git.example.com/team/demo", "code_host": "gitlab"}
    )
    config = config.model_copy(update={"repos": [repo]})
    review = router_for(engine, config, tmp_path).handle(DANA, "/review demo")
    [block] = _finding_blocks(review)
    assert _links(block)["GitLab"] == f"https://git.example.com/team/demo/-/blob/{sha}/app.py#L1"
