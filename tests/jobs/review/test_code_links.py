"""A finding's line on its code host: the four hosts' URL shapes, from a remote in any
of git's forms or a configured web address, credentials never carried over, and no
link at all when no web address is known."""

from __future__ import annotations

import pytest

from jobs.review.code_links import web_base, web_repo

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("remote", "line_url"),
    [
        (
            "https://github.com/pallets/click.git",
            f"https://github.com/pallets/click/blob/{SHA}/src/click/core.py#L12",
        ),
        (
            "git@gitlab.com:group/sub/app.git",
            f"https://gitlab.com/group/sub/app/-/blob/{SHA}/src/click/core.py#L12",
        ),
        (
            "ssh://git@codeberg.org:2222/team/app.git",
            f"https://codeberg.org/team/app/src/commit/{SHA}/src/click/core.py#L12",
        ),
        (
            "https://bitbucket.org/team/app",
            f"https://bitbucket.org/team/app/src/{SHA}/src/click/core.py#lines-12",
        ),
    ],
)
def test_each_host_links_to_the_line_at_the_commit(remote: str, line_url: str) -> None:
    web = web_repo(remote)
    assert web is not None
    assert web.line_url(SHA, "src/click/core.py", 12) == line_url


def test_a_range_uses_each_hosts_own_anchor() -> None:
    anchors = {
        remote: web.line_url(SHA, "a.py", 3, 5).rsplit("#", 1)[1]
        for remote in (
            "https://github.com/o/r",
            "https://gitlab.com/o/r",
            "https://gitea.example.com/o/r",
            "https://bitbucket.org/o/r",
        )
        if (web := web_repo(remote)) is not None
    }
    assert list(anchors.values()) == ["L3-L5", "L3-5", "L3-L5", "lines-3:5"]


@pytest.mark.parametrize(
    "remote",
    [
        "https://x-access-token:ghp_SECRET123@github.com/o/r.git",
        "https://oauth2:glpat-SECRET123@gitlab.com/o/r.git",
        "ssh://deploy:SECRET123@github.com/o/r.git",
        "deploy@github.com:o/r.git",
    ],
)
def test_credentials_in_a_remote_never_reach_the_link(remote: str) -> None:
    web = web_repo(remote)
    assert web is not None
    url = web.line_url(SHA, "a.py", 1)
    assert "SECRET" not in url and "@" not in url and "deploy" not in url
    assert url.startswith(("https://github.com/o/r/", "https://gitlab.com/o/r/"))


@pytest.mark.parametrize(
    "remote",
    [None, "", "/srv/git/app.git", "file:///srv/git/app.git", "../app", "C:\\repos\\app"],
)
def test_no_web_address_no_link(remote: str | None) -> None:
    assert web_repo(remote) is None


def test_a_host_whose_kind_is_unknown_links_only_when_configured() -> None:
    assert web_repo("https://git.example.com/team/app.git") is None
    web = web_repo("https://git.example.com/team/app.git", host="gitlab")
    assert web is not None
    assert web.line_url(SHA, "a b.py", 1) == (
        f"https://git.example.com/team/app/-/blob/{SHA}/a%20b.py#L1"
    )


def test_a_configured_web_url_wins_over_the_remote() -> None:
    web = web_repo("/srv/mirror/app.git", web_url="https://github.com/team/app/")
    assert web is not None and web.base == "https://github.com/team/app"
    assert web_base("https://github.com/team/app?tab=readme#top") == (
        "https://github.com/team/app",
        "github.com",
    )


def test_a_notebook_links_to_its_file_without_a_line() -> None:
    web = web_repo("https://github.com/o/r")
    assert web is not None
    assert web.file_url(SHA, "nb.ipynb") == f"https://github.com/o/r/blob/{SHA}/nb.ipynb"
