"""Commands that print what opsdesk knows: health, the digest, jobs, model usage, a job
run now and a review. Each imports what it needs when it runs."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from bot.cli.output import fail

if TYPE_CHECKING:
    from jobs.config.loading import Settings
    from jobs.context import Context


def run_health(settings: Settings, args: argparse.Namespace) -> int:
    from bot.wiring import build_context
    from handlers.health import health_report
    from storage.db import make_engine

    engine = make_engine(settings.database_url)
    context = build_context(settings, engine=engine)
    report = health_report(context)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        from bot.render_text import render_text
        from handlers.health import health_reply

        timezone = context.config.scheduler.timezone
        print(render_text(health_reply(report, timezone, more="opsdesk health --json"))[0])
    return 0 if report.healthy else 1


def run_digest(settings: Settings, args: argparse.Namespace) -> int:
    from bot.wiring import build_context
    from jobs.digest.job import build_digest, build_digest_with_chart
    from jobs.digest.replies import digest_reply
    from storage.extras import require_extra

    if args.png:
        require_extra("charts", "the digest's chart (--png)")
    context = build_context(settings)
    now = context.clock()
    chart = None
    if args.png:
        digest, chart = build_digest_with_chart(context, args.period, now)
        if chart is None:
            return fail(f"opsdesk: {digest.notes[-1]}", code=1)
        with open(args.png, "wb") as file:
            file.write(chart)
    else:
        digest = build_digest(context, args.period, now)
    if args.json:
        print(digest.model_dump_json(indent=2))
    else:
        from bot.render_text import render_text

        page = context.config.operator.public_url
        print(render_text(digest_reply(digest, chart, page), args.png)[0])
    return 0


def run_jobs(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from bot.wiring import build_context
    from handlers.jobs import job_lines, jobs_reply

    context = build_context(settings)
    lines = job_lines(context)
    if args.json:
        print(json.dumps([line.to_json() for line in lines], indent=2))
    else:
        print(render_text(jobs_reply(lines, context.clock()))[0])
    return 0


def run_usage(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from bot.wiring import build_context
    from handlers.router import UsageError
    from handlers.usage import parse_usage_query
    from jobs.usage.outlook import usage_against_budgets
    from jobs.usage.replies import usage_reply

    context = build_context(settings)
    try:
        query = parse_usage_query(
            [args.repo, args.period] if args.repo else [args.period], context.config
        )
    except UsageError as exc:
        return fail(f"opsdesk: {exc}", code=2)
    report = usage_against_budgets(context, query.period, query.repo)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_text(usage_reply(report, context.config.scheduler.timezone))[0])
    return 0


def run_one_job(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from bot.wiring import build_context
    from handlers.jobs import run_now
    from handlers.router import UsageError

    try:
        reply = run_now(build_context(settings), args.name)
    except UsageError as exc:
        return fail(f"opsdesk: {exc}", code=2)
    print(render_text(reply)[0])
    return 0 if reply.status == "ok" else 1


def run_review_command(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from bot.wiring import build_context
    from jobs.review.code_view import code_view
    from jobs.review.post import review_post
    from jobs.review.run_record import recorded_review
    from jobs.review.targets import ReviewFailed

    context = build_context(settings)
    if args.branch is not None or args.pr is not None:
        return _review_branch(context, args)
    if args.base is not None:
        return fail("opsdesk: --base goes with --branch or --pr", code=2)
    try:
        result = recorded_review(context, args.target, full=args.full, allow_local=True)
    except ReviewFailed as exc:
        return fail(f"opsdesk: {exc}", code=1)
    if args.json:
        row = result.stored.row
        view = code_view(context, row["repo"], row["commit_sha"], result.findings)
        print(json.dumps(result.to_json(view), indent=2))
    else:
        # Nobody can press a button on the command line: findings without labels.
        reply = review_post(context, result, on_command_line=True)
        print(render_text(reply, with_buttons=False)[0])
    return 0


def _review_branch(context: Context, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from jobs.review.branch_review import BranchAsk, run_branch_review
    from jobs.review.post import branch_reply
    from jobs.review.targets import ReviewFailed

    if args.branch is not None and args.pr is not None:
        return fail("opsdesk: give --branch or --pr, not both", code=2)
    if args.full:
        return fail(
            "opsdesk: a branch review compares two whole trees already; drop --full", code=2
        )
    if args.pr is not None and args.pr <= 0:
        return fail("opsdesk: --pr takes a pull request number (1 or more)", code=2)
    ask = BranchAsk(branch=args.branch, request=args.pr, base=args.base)
    try:
        found = run_branch_review(context, args.target, ask, allow_local=True)
    except ReviewFailed as exc:
        return fail(f"opsdesk: {exc}", code=1)
    if args.json:
        head = found.head
        branch = {"label": head.label, "head": head.head_sha, "base": head.base_label,
                  "merge_base": head.merge_base}  # fmt: skip
        print(json.dumps({**found.result.to_json(), "branch": branch}, indent=2))
    else:
        reply = branch_reply(context, found, on_command_line=True)
        print(render_text(reply, with_buttons=False)[0])
    return 0


def run_findings(settings: Settings, args: argparse.Namespace) -> int:
    from bot.render_text import render_text
    from bot.wiring import build_context
    from handlers.review import FindingsQuery, findings_blocks, matching_findings
    from jobs.core.reply import Block, Reply
    from jobs.review.replies import repo_label
    from jobs.review.targets import UnknownRepo

    context = build_context(settings)
    path = (args.path or "").removeprefix("./").rstrip("/") or None
    query = FindingsQuery(
        args.target, args.suppressed, path, rule=args.rule,
        severity=args.severity, muted=args.muted,
    )  # fmt: skip
    try:
        target, found = matching_findings(context, query, allow_local=True)
    except UnknownRepo as exc:
        return fail(f"opsdesk: {exc.reason}", code=1)
    if args.json:
        from jobs.review.code_view import code_view
        from jobs.review.history import review_commit, served_review_id

        commit = review_commit(context.engine, served_review_id(context.engine, target.name))
        view = code_view(context, target.name, commit, found)
        listed = [
            f.to_json() | {"url": view.url(f), "snippet": view.snippet(f) or None} for f in found
        ]
        print(json.dumps(listed, indent=2))
        return 0
    what = query.standing
    title = f"Findings {repo_label(target.name)}: {len(found)} {what}{query.describe()}"
    blocks = findings_blocks(context, target.name, found, suppressed=query.suppressed)
    if not found:
        blocks = [Block(text=f"No {what} findings{query.describe()}.")]
    print(render_text(Reply(title=title, blocks=blocks), with_buttons=False)[0])
    return 0
