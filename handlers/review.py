"""/review <repo> [full | <branch> | #123] and /findings <repo>
[suppressed|muted|unreviewed] [rule CODE] [severity LEVEL] [path] [page]."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from handlers.feedback import remember_shown
from handlers.ids import parse_id
from handlers.mutes import muted_hint, muted_listing
from handlers.names import on_console, unknown_repo
from handlers.router import Request, UsageError
from jobs.context import Context
from jobs.core.reply import Block, Reply
from jobs.core.text import plural
from jobs.review.branch_review import BranchAsk, run_branch_review
from jobs.review.branches import parse_request
from jobs.review.code_view import code_view
from jobs.review.feedback import marks_of
from jobs.review.history import load_review, open_findings, review_commit, served_review_id
from jobs.review.post import branch_reply, last_review_stands, review_post
from jobs.review.replies import (
    finding_block,
    not_reviewed_text,
    repo_label,
    suppressed_block,
)
from jobs.review.run_record import recorded_review
from jobs.review.stored import ReviewedFinding
from jobs.review.targets import (
    RepoTarget,
    ReviewFailed,
    UnknownRepo,
    resolve_target,
)

FINDINGS_PER_PAGE = 20


def review(request: Request) -> Reply:
    """Review a repository (cached when its HEAD was reviewed already), or what one of
    its branches or pull requests adds."""
    args = request.args
    if not args or len(args) > 2:
        raise UsageError("Give a repository name and optionally `full`, a branch or #123.")
    context, local = request.context, on_console(request)
    try:
        if len(args) == 2 and args[1] != "full":
            number = parse_request(args[1])
            ask = BranchAsk(request=number) if number else BranchAsk(branch=args[1])
            found = run_branch_review(context, args[0], ask, allow_local=local)
            return remember_shown(request, branch_reply(context, found))
        result = recorded_review(context, args[0], full=len(args) == 2, allow_local=local)
    except UnknownRepo as exc:
        return unknown_repo(request, exc)
    except ReviewFailed as exc:
        stands = last_review_stands(context, exc.repo, request.caller.command_prefix)
        failed = f"Review of {repo_label(exc.repo)} failed: {exc.reason}"
        return Reply.error("\n".join(filter(None, [failed, stands])))
    return remember_shown(request, review_post(context, result))


SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class FindingsQuery:
    """/findings <repo> [suppressed|muted|unreviewed] [rule CODE] [severity LEVEL] [path]
    [page]: which findings, which page."""

    repo: str
    suppressed: bool = False
    path: str | None = None  # a file, or a directory and everything under it
    page: int = 1
    rule: str | None = None  # a rule code (ruff's F401, shellcheck's SC2086), any case
    severity: str | None = None
    unreviewed: bool = False  # the files the last review did not cover, not findings
    muted: bool = False  # those of a rule muted in the repository

    @property
    def standing(self) -> str:
        """Which of a repository's open findings: open, suppressed or muted."""
        return "muted" if self.muted else "suppressed" if self.suppressed else "open"

    def command(self, label: str, page: int) -> str:
        """The command that shows `page` of the same listing (quoted as a shell would,
        as commands are parsed)."""
        path = shlex.quote(self.path) if self.path else ""
        words = ["/findings", shlex.quote(label), "" if self.standing == "open" else self.standing]
        words += ["rule", shlex.quote(self.rule)] if self.rule else []
        words += ["severity", self.severity] if self.severity else []
        return " ".join(word for word in [*words, path, str(page)] if word)

    def covers(self, path: str) -> bool:
        return self.path is None or path == self.path or path.startswith(self.path + "/")

    def matches(self, finding: ReviewedFinding) -> bool:
        return (
            self.covers(finding.path)
            and (self.rule is None or finding.category.casefold() == self.rule.casefold())
            and (self.severity is None or finding.severity == self.severity)
        )

    def describe(self) -> str:
        """ " in src", " of rule F401", " of severity error": what narrows the listing."""
        parts = [f" of rule {self.rule}" if self.rule else ""]
        parts.append(f" of severity {self.severity}" if self.severity else "")
        parts.append(f" in {self.path}" if self.path else "")
        return "".join(parts)


def parse_findings_query(args: list[str]) -> FindingsQuery:
    """The repository first; after it, in any order, `suppressed` or `muted`, `rule CODE`,
    `severity LEVEL`, a path (a file or a directory of the repository) and a page number."""
    if not args:
        raise UsageError("Give a repository name.")
    suppressed, unreviewed, muted, path, page = False, False, False, None, None
    options: dict[str, str] = {}
    words = iter(args[1:])
    for word in words:
        if word in ("rule", "severity") and word not in options:
            value = next(words, None)
            if value is None:
                raise UsageError(f"Give a {'rule code' if word == 'rule' else 'severity'} "
                                 f"after `{word}`.")  # fmt: skip
            if word == "severity" and value.lower() not in SEVERITIES:
                raise UsageError(f"Severity is one of {', '.join(SEVERITIES)}.")
            options[word] = value.lower() if word == "severity" else value
        elif word in ("suppressed", "muted", "unreviewed") and not (
            suppressed or muted or unreviewed
        ):
            suppressed, muted = word == "suppressed", word == "muted"
            unreviewed = word == "unreviewed"
        elif word.isdigit() and page is None:
            page = parse_id(word, "page number")
        elif not word.isdigit() and path is None:
            path = word.removeprefix("./").rstrip("/") or None
        else:
            raise UsageError(f"{word!r} is one argument too many.")
    return FindingsQuery(
        args[0], suppressed, path, page or 1, unreviewed=unreviewed, muted=muted, **options
    )


def matching_findings(
    context: Context, query: FindingsQuery, *, allow_local: bool
) -> tuple[RepoTarget, list[ReviewedFinding]]:
    """The repository's open (or suppressed, or muted) findings the query covers, most
    severe first. UnknownRepo when the repository is not one."""
    target = resolve_target(context, query.repo, allow_local=allow_local)
    found = open_findings(context.engine, target.name, query.standing)
    return target, [f for f in found if query.matches(f)]


def findings(request: Request) -> Reply:
    """List a repository's open findings with feedback buttons, or the suppressed ones
    with a button to take the false positive back, a page at a time."""
    query = parse_findings_query(request.args)
    context = request.context
    if query.unreviewed:
        return unreviewed_files(request, query)
    try:
        target, found = matching_findings(context, query, allow_local=on_console(request))
    except UnknownRepo as exc:
        return unknown_repo(request, exc)
    label = repo_label(target.name)
    what = query.standing
    where = query.describe()
    if query.muted:
        return muted_listing(request, target.name, found, where)
    if not found:
        none = "No finding is marked false positive" if query.suppressed else "No open findings"
        text = f"{none}{where}.{muted_hint(context.engine, target.name, query.rule)}"
        return Reply.text(text, title=f"Findings {label}: none {what}{where}")
    pages = -(-len(found) // FINDINGS_PER_PAGE)
    if query.page > pages:
        return Reply.error(
            f"There is no page {query.page}: {plural(len(found), 'finding')} make "
            f"{plural(pages, 'page')}. Page 1: {query.command(label, 1)}"
        )
    first = (query.page - 1) * FINDINGS_PER_PAGE
    listed = found[first : first + FINDINGS_PER_PAGE]
    blocks = findings_blocks(context, target.name, listed, suppressed=query.suppressed)
    note = ""
    if pages > 1:
        note = f"showing {first + 1} to {first + len(listed)} of {len(found)}, most severe first"
        if query.page < pages:
            note += f"; next: {query.command(label, query.page + 1)}"
    title = f"Findings {label}: {len(found)} {what}{where}"
    return remember_shown(request, Reply(title=title, blocks=blocks, note=note))


def findings_blocks(
    context: Context, repo: str, listed: list[ReviewedFinding], *, suppressed: bool
) -> list[Block]:
    """Each finding with who marked what: feedback buttons, or the undo of a false
    positive; its link and code at the commit last reviewed."""
    with context.engine.connect() as connection:
        marks = marks_of(connection, [f.id for f in listed])
    commit = review_commit(context.engine, served_review_id(context.engine, repo))
    view = code_view(context, repo, commit, listed)
    if suppressed:
        return [suppressed_block(f.as_row(), marks.get(f.id, ()), view) for f in listed]
    return [finding_block(f.as_row(), marks=marks.get(f.id, ()), view=view) for f in listed]


MAX_UNREVIEWED_GROUPS = 20
MAX_UNREVIEWED_PATHS = 20


def unreviewed_files(request: Request, query: FindingsQuery) -> Reply:
    """The files the repository's last review could not cover, grouped by reason."""
    context = request.context
    try:
        target = resolve_target(context, query.repo, allow_local=on_console(request))
    except UnknownRepo as exc:
        return unknown_repo(request, exc)
    label = repo_label(target.name)
    served = load_review(context.engine, served_review_id(context.engine, target.name) or 0)
    if served is None:
        return Reply.text(f"{label} has not been reviewed yet: /review {label}")
    files = [s for s in served.skipped_files if query.covers(s.path)]
    where = f" in {query.path}" if query.path else ""
    if not files:
        return Reply.text(f"Every file{where} was reviewed.", title=f"{label}: all reviewed")
    text = not_reviewed_text(files, MAX_UNREVIEWED_GROUPS, MAX_UNREVIEWED_PATHS)
    return Reply(
        title=f"{label}: {plural(len(files), 'file')} not reviewed{where}",
        blocks=[Block(text=text)],
    )
