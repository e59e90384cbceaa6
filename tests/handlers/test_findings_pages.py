"""/findings a page at a time and for one file or directory: every open finding can be
reached in chat (and so marked), however many a repository has."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from handlers.access import CONSOLE_CALLER, Caller
from handlers.catalog import build_router
from handlers.review import FindingsQuery, parse_findings_query
from handlers.router import Router, UsageError, parse_command_line
from jobs.config.schema import Config
from jobs.review.feedback import finding_id_of
from tests.support.context import jobs_context
from tests.support.git_repo import Repo

VIEWER = Caller(platform="slack", user_id="U1", chat_id="C1", name="ann")


def imports(count: int) -> str:
    """A module of `count` unused imports: `count` F401 findings."""
    return "".join(f"import mod{index}\n" for index in range(count))


@pytest.fixture
def reviewed(sqlite_engine: Engine, git_repo: Repo, tmp_path: Path) -> Router:
    """Repository "demo" reviewed once: 25 findings in pkg/a.py, 20 in other/b.py."""
    git_repo.commit("many", **{"pkg/a.py": imports(25), "other/b.py": imports(20)})
    config = Config.model_validate(
        {
            "repos": [{"name": "demo", "path": str(git_repo.path)}],
            "reviewer": {"lint": {"select": ["F401"]}},
            "access": {"viewers": ["slack:U1"]},
        }
    )
    built = build_router(jobs_context(sqlite_engine, config, tmp_path))
    assert built.handle(CONSOLE_CALLER, "/review demo").status == "ok"
    return built


def shown_ids(router: Router, line: str) -> list[int]:
    reply = router.handle(VIEWER, line)
    assert reply.status == "ok", reply.blocks[0].text
    return [i for i in (finding_id_of(b.key) for b in reply.blocks) if i is not None]


def test_the_pages_list_every_finding_once(reviewed: Router) -> None:
    first = reviewed.handle(VIEWER, "/findings demo")
    assert first.title == "Findings demo: 45 open"
    assert first.note == "showing 1 to 20 of 45, most severe first; next: /findings demo 2"
    last = reviewed.handle(VIEWER, "/findings demo 3")
    assert last.note == "showing 41 to 45 of 45, most severe first"
    pages = [shown_ids(reviewed, f"/findings demo {page}") for page in (1, 2, 3)]
    assert [len(page) for page in pages] == [20, 20, 5]
    assert len({i for page in pages for i in page}) == 45


def test_a_finding_on_a_later_page_can_be_marked(reviewed: Router) -> None:
    listed = reviewed.handle(VIEWER, "/findings demo 3")
    button = listed.blocks[-1].buttons[2]  # False positive
    pressed = reviewed.press(VIEWER, button.payload)
    assert pressed.title == "Feedback recorded"
    assert reviewed.handle(VIEWER, "/findings demo").title == "Findings demo: 44 open"
    assert reviewed.handle(VIEWER, "/findings demo suppressed").title == (
        "Findings demo: 1 suppressed"
    )


def test_a_path_narrows_the_list_to_a_file_or_a_directory(reviewed: Router) -> None:
    directory = reviewed.handle(VIEWER, "/findings demo pkg/")
    assert directory.title == "Findings demo: 25 open in pkg"
    assert directory.note.endswith("next: /findings demo pkg 2")
    assert all("pkg/a.py:" in block.text for block in directory.blocks)
    assert len(shown_ids(reviewed, "/findings demo 2 ./pkg/a.py")) == 5
    assert reviewed.handle(VIEWER, "/findings demo other/b.py").note == ""  # one page
    nothing = reviewed.handle(VIEWER, "/findings demo pk")  # not a prefix of a path part
    assert nothing.title == "Findings demo: none open in pk"
    assert nothing.blocks[0].text == "No open findings in pk."


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("/findings demo 4", "There is no page 4: 45 findings make 3 pages. "),
        ("/findings demo 0", "That page number is not valid"),
        ("/findings demo \uff12", "That page number is not valid"),  # a full-width 2
        ("/findings demo 99999999999", "That page number is not valid"),
        ("/findings demo 1 2", "'2' is one argument too many."),
        ("/findings demo pkg other", "'other' is one argument too many."),
        ("/findings", "Give a repository name."),
    ],
)
def test_pages_and_paths_that_do_not_fit_are_told_so(
    reviewed: Router, line: str, says: str
) -> None:
    reply = reviewed.handle(VIEWER, line)
    assert reply.status == "error"
    assert reply.blocks[0].text.startswith(says), reply.blocks[0].text


def test_the_query_reads_its_words_in_any_order() -> None:
    assert parse_findings_query(["demo"]) == FindingsQuery("demo")
    assert parse_findings_query(["demo", "3", "suppressed", "src/"]) == FindingsQuery(
        "demo", suppressed=True, path="src", page=3
    )
    query = FindingsQuery("demo", suppressed=True, path="src", page=3)
    assert query.command("demo", 4) == "/findings demo suppressed src 4"
    spaced = parse_findings_query(["demo", "docs/my notes"])
    assert spaced.command("demo", 2) == "/findings demo 'docs/my notes' 2"
    assert parse_command_line(spaced.command("demo", 2)) == (
        "findings",
        ["demo", "docs/my notes", "2"],
    )
    assert query.covers("src/app.py") and query.covers("src")
    assert not query.covers("srcs/app.py")
    with pytest.raises(UsageError):
        parse_findings_query([])


def test_a_rule_or_a_severity_narrows_the_list(
    sqlite_engine: Engine, git_repo: Repo, tmp_path: Path
) -> None:
    git_repo.commit("mixed", **{"a.py": imports(21) + "x = y == None\n", "b.py": "y == None\n"})
    config = Config.model_validate(
        {
            "repos": [{"name": "demo", "path": str(git_repo.path)}],
            "reviewer": {"lint": {"select": ["F401", "E711", "B015"]}},
        }
    )
    router = build_router(jobs_context(sqlite_engine, config, tmp_path))
    assert router.handle(CONSOLE_CALLER, "/review demo").status == "ok"
    unused = router.handle(CONSOLE_CALLER, "/findings demo rule f401")
    assert unused.title == "Findings demo: 21 open of rule f401"
    assert unused.note.endswith("next: /findings demo rule f401 2")
    assert all("F401" in block.text for block in unused.blocks)
    in_a = router.handle(CONSOLE_CALLER, "/findings demo a.py rule E711")
    assert in_a.title == "Findings demo: 1 open of rule E711 in a.py"
    counts = []
    for level in ("error", "warning", "info"):
        title = router.handle(CONSOLE_CALLER, f"/findings demo severity {level}").title
        counts.append(0 if ": none" in title else int(title.split(": ")[1].split()[0]))
    assert counts == [0, 22, 2]  # F401 and B015 are warnings, E711 (pycodestyle) style
    bad = router.handle(CONSOLE_CALLER, "/findings demo severity loud")
    assert bad.status == "error" and "Severity is one of error, warning, info" in (
        bad.blocks[0].text
    )
    assert router.handle(CONSOLE_CALLER, "/findings demo rule").status == "error"
