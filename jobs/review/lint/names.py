"""A linter's file names matched with the commit's files, whatever a name's bytes.

git names a file by bytes; the checkout keeps a name that is not UTF-8 with surrogate
escapes (b"latin\\xe9.py" is "latin\\udce9.py"), so the file can be opened. A linter's
report cannot carry those bytes: ruff writes U+FFFD for each byte that is not UTF-8,
as git's diff does, SARIF percent-encodes them, ShellCheck's Checkstyle writes the
escape as a character reference XML does not allow. Findings are stored and shown
under that readable name (`display_path`), which is one file's unless two names
differ only in such bytes: those files are not reviewed, and say why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from jobs.review.finding import Finding, display_path

INDISTINCT_NAME = "name not UTF-8, indistinguishable from another in the linter's report"


class ReportedNames:
    """The commit's files by the readable name a report gives them."""

    def __init__(self, files: Iterable[str], not_reviewed: Iterable[str] = ()) -> None:
        by_name: dict[str, list[str]] = defaultdict(list)
        for path in files:
            by_name[display_path(path)].append(path)
        # Files whose readable name another file also has: a report cannot tell them apart.
        self.indistinct = frozenset(
            path for paths in by_name.values() if len(paths) > 1 for path in paths
        )
        self._names = {shown for shown, paths in by_name.items() if len(paths) == 1}
        # What a linter says of these is left out: they are listed as not reviewed.
        self._left_out = {display_path(path) for path in (*self.indistinct, *not_reviewed)}

    def of_commit(self, findings: Iterable[Finding]) -> tuple[list[Finding], int]:
        """The findings in files of the commit that are reviewed, each under its file's
        readable name, and how many named no file of the commit."""
        kept: list[Finding] = []
        elsewhere = 0
        for found in findings:
            shown = display_path(found.path)
            if shown in self._left_out:
                continue
            if shown in self._names:
                kept.append(
                    found if shown == found.path else found.model_copy(update={"path": shown})
                )
            else:
                elsewhere += 1
        return kept, elsewhere
