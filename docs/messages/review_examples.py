"""Review posts, findings, presses and the review's errors, over a small Python project
with a GitHub remote, reviewed night after night by ruff."""

from __future__ import annotations

from datetime import timedelta

from world import NOW, Example, World

from handlers.access import Caller

CORE = '''"""The command line's core."""

import os
import sys


def invoke(ctx, args):
    if args:
        return run(ctx, args)
    return context_settings
'''

TERMUI = '''"""Terminal helpers."""

def pager(generator, color=None):
    import subprocess
    env = dict(os.environ)
    return subprocess.call(["less"], env=env)
'''

DOCS = {f"docs/page{n}.md": f"# Page {n}\n" for n in range(1, 13)}
PROJECT = {
    "README.md": "# click\n",
    "pyproject.toml": '[project]\nname = "click"\n',
    "docs/logo.svg": "<svg/>",
    **DOCS,
    "src/click/__init__.py": '"""click."""\n',
    "src/click/core.py": CORE,
    "src/click/_termui_impl.py": TERMUI,
}


def config_for(path: str) -> dict[str, object]:
    return {
        "repos": [{"name": "click", "path": path}],
        "reviewer": {"lint": {"select": ["E", "F", "W", "B", "UP"]}, "max_findings_shown": 5},
        "access": {"viewers": ["slack:U0DANA", "slack:U0LEE", "telegram:42"]},
    }


def examples(world: World) -> list[Example]:
    repo = world.repo("click", remote="git@github.com:pallets/click.git")
    repo.commit("Initial import", PROJECT)
    router = world.router(config_for(str(repo.path)))
    world.now = NOW - timedelta(days=2)
    slack_dana = Caller("slack", "U0DANA", "C0TEAM", name="Dana", command_prefix="/opsdesk ")
    first = router.handle(slack_dana, "/review click")

    # Eight commits: two new problems, one fixed.
    core = CORE.replace("import os\n", "")
    repo.commit("Drop an unused import", {"src/click/core.py": core})
    for n in range(6):
        repo.commit(f"Docs {n}", {f"docs/page{n + 1}.md": f"# Page {n + 1}, revised\n"})
    repo.commit(
        "Parse options",
        {"src/click/parser.py": "def parse(args=[]):\n    return normalise(args)\n"},
    )
    world.now = NOW - timedelta(days=1)
    busy = router.handle(slack_dana, "/review click")

    repo.commit("Typo", {"README.md": "# click, the CLI toolkit\n"})
    repo.commit("More docs", {"docs/page12.md": "# Page 12, revised\n"})
    world.now = NOW
    quiet = router.handle(slack_dana, "/review click")
    unreviewed = router.handle(slack_dana, "/findings click unreviewed")

    listing = router.handle(slack_dana, "/findings click")
    keyed = [b for b in listing.blocks if b.key and b.buttons]
    helpful = next(b.payload for b in keyed[0].buttons if b.label == "Helpful")
    false_positive = next(b.payload for b in keyed[1].buttons if b.label == "False positive")
    router.press(slack_dana, helpful)
    lee = Caller("slack", "U0LEE", "C0TEAM", name="Lee", command_prefix="/opsdesk ")
    marked_helpful = router.press(lee, helpful)
    marked_false = router.press(lee, false_positive)

    return [
        Example(
            "review-first",
            "Reviews",
            "The first review of a repository",
            "Posted by the nightly review job (and answered to `/review click`) the first "
            "time a repository is reviewed: everything it finds is new.",
            first,
        ),
        Example(
            "review-busy",
            "Reviews",
            "A night with news",
            "The nightly post after eight commits that brought two findings and fixed one.",
            busy,
        ),
        Example(
            "review-quiet",
            "Reviews",
            "A quiet night",
            "The nightly post after commits that changed no finding.",
            quiet,
        ),
        Example(
            "unreviewed",
            "Findings",
            "The files no reviewer covered",
            "`/findings click unreviewed`, the command the review post names: the files "
            "of the last review that no linter covers or that were too large, by reason.",
            unreviewed,
        ),
        Example(
            "findings",
            "Findings",
            "The open findings of a repository",
            "`/findings click`: every open finding, most severe first, 20 a page, each "
            "with its link to the line, its rule and its code.",
            listing,
        ),
        Example(
            "press-helpful",
            "After a press",
            "Helpful, marked by two people",
            "Dana and Lee pressed *Helpful*: the finding is redrawn in place with who "
            "marked it; no button carries a tick, since verdicts are each person's.",
            listing,
            press=helpful,
            answer=marked_helpful,
        ),
        Example(
            "press-false-positive",
            "After a press",
            "A false positive, folded",
            "Lee pressed *False positive*: the finding folds to one line with its undo, "
            "and is not reported again in this repository.",
            listing,
            press=false_positive,
            answer=marked_false,
        ),
        Example(
            "error-unknown-repo",
            "Errors and answers",
            "An unknown repository",
            "`/review clik`: a name that is not configured, answered at once with the "
            "command it most likely meant.",
            router.handle(slack_dana, "/review clik"),
        ),
    ]
