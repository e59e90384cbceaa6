"""Rules a team mutes: /mute <repo> <RULE> and /unmute <repo> <RULE> (admins), the
*Mute rule* button an admin is offered after marking a finding false positive
(`mu:<finding id>`), and /findings <repo> muted.

A muted rule hides its findings in that repository on every path — cached and fresh
reviews, `full`, branch and scheduled ones, /findings, the digest, /metrics — and
they are counted apart; who muted it and when is kept and shown.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy.engine import Engine

from handlers.feedback import NOT_SHOWN_HERE, refusal_for, remember_shown
from handlers.ids import parse_id
from handlers.router import Request, UsageError
from jobs.core.reply import Block, Reply, Span
from jobs.core.text import plural
from jobs.core.when import local_day
from jobs.review.code_view import code_view
from jobs.review.finding import location
from jobs.review.history import ReviewedFinding, open_findings, review_commit
from jobs.review.mutes import RULE_CODE, MutedRule, mute_rule, muted_rules, unmute_rule
from jobs.review.replies import muted_block, repo_label, rule_label
from jobs.review.targets import UnknownRepo, resolve_target
from storage.db import session_scope
from storage.models import Finding

MAX_MUTED_LISTED = 20


def _repo_and_rule(request: Request) -> tuple[str, str]:
    if len(request.args) != 2:
        raise UsageError("Give a repository and a rule code, e.g. SIM105.")
    repo, rule = request.args
    if RULE_CODE.fullmatch(rule) is None:
        raise UsageError(f"{rule[:40]!r} is not a rule code (like F401, SIM105 or SC2086).")
    return repo, rule


def _target(request: Request, repo: str) -> str:
    on_console = request.caller.platform == "console"
    return resolve_target(request.context, repo, allow_local=on_console).name


def _when(request: Request, mute: MutedRule) -> str:
    return local_day(mute.at, request.context.config.scheduler.timezone)


def _of_rule(request: Request, repo: str, rule: str, standing_as: str) -> int:
    """How many of the repository's open findings of `rule` stand as `standing_as`
    (open: listed; muted: left out for the rule)."""
    found = open_findings(request.context.engine, repo, standing_as)
    return sum(1 for f in found if f.category.casefold() == rule.casefold())


def _muted_reply(request: Request, repo: str, mute: MutedRule, made: bool) -> Reply:
    label = repo_label(repo)
    if not made:
        text = (
            f"Rule {mute.rule} is muted in {label} already, by {mute.by} on "
            f"{_when(request, mute)}; /unmute {label} {mute.rule} takes it back."
        )
        return Reply.text(text, title=f"{label}: {mute.rule} muted already")
    hidden = _of_rule(request, repo, mute.rule, "muted")
    text = (
        f"Rule {mute.rule} muted in {label} by {mute.by}: its findings are left out of "
        f"reviews, /findings and the digest from now on, and counted apart "
        f"({plural(hidden, 'open finding')} now: /findings {label} muted). "
        f"/unmute {label} {mute.rule} takes it back."
    )
    return Reply.text(text, title=f"{label}: {mute.rule} muted")


def mute(request: Request) -> Reply:
    """Mute a rule in a repository, on the record."""
    repo, rule = _repo_and_rule(request)
    caller = request.caller
    try:
        name = _target(request, repo)
    except UnknownRepo as exc:
        return Reply.error(exc.reason)
    muted, made = mute_rule(request.context.engine, name, rule, principal=caller.principal,
                            name=caller.name, at=request.context.clock())  # fmt: skip
    return _muted_reply(request, name, muted, made)


def unmute(request: Request) -> Reply:
    """Take a muted rule back: its findings are reported again."""
    repo, rule = _repo_and_rule(request)
    try:
        name = _target(request, repo)
    except UnknownRepo as exc:
        return Reply.error(exc.reason)
    label = repo_label(name)
    standing = unmute_rule(request.context.engine, name, rule)
    if standing is None:
        return Reply.error(f"Rule {rule} is not muted in {label}; nothing was changed.")
    who = request.caller.shown_name
    count = plural(_of_rule(request, name, standing.rule, "open"), "open finding")
    text = (
        f"Rule {standing.rule} unmuted in {label} by {who} (muted by {standing.by} on "
        f"{_when(request, standing)}): its {count} are reported again."
    )
    return Reply.text(text, title=f"{label}: {standing.rule} unmuted")


def press_mute(request: Request) -> Reply:
    """*Mute <RULE> here* on a finding shown in this chat: mutes its rule in its
    repository; the finding is redrawn folded, saying who muted the rule."""
    try:
        if len(request.args) != 1:
            raise UsageError("wrong number of parts")
        finding_id = parse_id(request.args[0], "finding id")
    except UsageError:
        return Reply.error("That mute button is malformed; nothing was changed.")
    refusal = refusal_for(request, finding_id)
    if refusal is not None:
        return refusal
    context = request.context
    with session_scope(context.engine) as session:
        finding = session.get(Finding, finding_id)
        if finding is not None:
            session.expunge(finding)
    if finding is None:
        return Reply.refused(NOT_SHOWN_HERE)
    caller = request.caller
    muted, made = mute_rule(context.engine, finding.repo, finding.category,
                            principal=caller.principal, name=caller.name,
                            at=context.clock())  # fmt: skip
    answer = _muted_reply(request, finding.repo, muted, made)
    view = code_view(context, finding.repo, review_commit(context.engine,
                     finding.last_review_id), [finding])  # fmt: skip
    folded = muted_block(finding, muted.by, view)
    return Reply(title=answer.title, blocks=[folded], note=answer.blocks[0].text)


def muted_hint(engine: Engine, repo: str, rule: str | None) -> str:
    """ " Rule F401 is muted here (by Ada): /findings demo muted" when `rule` is."""
    if rule is None:
        return ""
    for mute in muted_rules(engine, repo):
        if mute.rule.casefold() == rule.casefold():
            label = repo_label(repo)
            return f" Rule {mute.rule} is muted here (by {mute.by}): /findings {label} muted"
    return ""


def muted_listing(request: Request, repo: str, found: list[ReviewedFinding], where: str) -> Reply:
    """/findings <repo> muted: each muted rule with who muted it, when, and how many
    open findings it hides; then those findings, folded to one line each."""
    label = repo_label(repo)
    rules = muted_rules(request.context.engine, repo)
    if not rules:
        text = f"No rule is muted in {label}: an admin mutes one with /mute {label} <RULE>."
        return Reply.text(text, title=f"Findings {label}: none muted")
    per_rule = Counter(f.category.casefold() for f in found)
    lines = [
        f"🔇 {m.rule} — muted by {m.by} on {_when(request, m)}, "
        f"{plural(per_rule[m.rule.casefold()], 'open finding')}{where}: /unmute {label} {m.rule}"
        for m in rules
    ]
    blocks = [Block(text="\n".join(lines))]
    for f in found[:MAX_MUTED_LISTED]:
        where_it_is = Span(text=location(f.path, f.line, f.cell), style="code")
        what = Span(text=f" {rule_label(f.as_row())}: {f.message}")
        blocks.append(Block(spans=[Span(text="🔇 "), where_it_is, what]))
    note = ""
    if len(found) > MAX_MUTED_LISTED:
        note = f"{len(found) - MAX_MUTED_LISTED} more: opsdesk findings {label} --muted"
    title = f"Findings {label}: {len(found)} muted{where}"
    return remember_shown(request, Reply(title=title, blocks=blocks, note=note))
