"""Every command and button opsdesk has, in one place: what /help, the menus and the
router know of each before it is first used.

Each handler is named by where it is defined, and its module (with the jobs/ parts
it needs: the review engine, the digest, the usage figures) is imported by the
command's first use. So an idle process holds only the commands it was asked for.
What a command answers inside the acknowledgement (`early`, `instant`) reads the
configuration alone and lives in light modules (`handlers.names`, `handlers.help`).
"""

from __future__ import annotations

import re

from handlers.access import Role
from handlers.help import help_
from handlers.names import job_not_configured, repo_not_configured
from handlers.router import Action, Command, Router
from jobs.context import Context
from jobs.review.feedback import OPEN_CODE, UNDO_CODE, VERDICT_CODES
from jobs.review.replies import MUTE_PREFIX

COMMANDS: list[Command] = [
    Command("help", "/help", "this list", help_, instant=True),
    Command(
        "health",
        "/health [all]",
        "what is wrong and what to do; all: every component",
        "handlers.health:health",
    ),
    Command(
        "review",
        "/review <repo> [full | <branch> | #123]",
        "review a repository (cached, delta or full), or what a branch or pull request adds to it",
        "handlers.review:review",
        slow=True,
        early=repo_not_configured,
    ),
    Command(
        "findings",
        "/findings <repo> [suppressed|muted|unreviewed] [rule CODE] [severity LEVEL] [path] [page]",
        "open findings of a repository, 20 a page; `suppressed`: those marked false "
        "positive, to undo; `muted`: the rules muted there and their findings; "
        "`unreviewed`: the files no reviewer covered; `rule F401`, "
        "`severity error` or a path: only those",
        "handlers.review:findings",
    ),
    Command(
        "mute",
        "/mute <repo> <RULE>",
        "leave a rule's findings out in a repository (counted apart; "
        "/findings <repo> muted lists them)",
        "handlers.mutes:mute",
        role=Role.ADMIN,
    ),
    Command(
        "unmute",
        "/unmute <repo> <RULE>",
        "report a muted rule's findings again",
        "handlers.mutes:unmute",
        role=Role.ADMIN,
    ),
    Command(
        "jobs",
        "/jobs",
        "scheduled jobs: next run, last status and duration",
        "handlers.jobs:list_jobs",
    ),
    Command(
        "run",
        "/run <job>",
        "run a job or batch now",
        "handlers.jobs:run",
        role=Role.ADMIN,
        slow=True,
        early=job_not_configured,
    ),
    Command(
        "pause", "/pause <job>", "skip a job's scheduled runs", "handlers.jobs:pause", Role.ADMIN
    ),
    Command("resume", "/resume <job>", "resume a paused job", "handlers.jobs:resume", Role.ADMIN),
    Command(
        "outbox",
        "/outbox [retry|drop <id|all>]",
        "posts that failed for good: list, retry or drop",
        "handlers.outbox:outbox",
        role=Role.ADMIN,
    ),
    Command(
        "digest",
        "/digest [day|week]",
        "savings, job and model performance, regressions, with a chart",
        "handlers.digest:digest",
        slow=True,
    ),
    Command(
        "usage",
        "/usage [repo] [day|week|month]",
        "model tokens and cache savings by repository and model, with a month-end forecast",
        "handlers.usage:usage",
    ),
    Command(
        "budget",
        "/budget [repo|all] [+AMOUNT]",
        "monthly model budgets: used, forecast; admins raise one for this month (+2M)",
        "handlers.budget:budget",
    ),
]

# Exactly the payloads opsdesk writes on its buttons (see jobs/review/replies.py).
FEEDBACK_PAYLOAD = re.compile(
    "fb:[1-9][0-9]{0,9}:(?:"
    + "|".join(map(re.escape, [*VERDICT_CODES, UNDO_CODE, OPEN_CODE]))
    + ")"
)
MUTE_PAYLOAD = re.compile(rf"{MUTE_PREFIX}:[1-9][0-9]{{0,9}}")

ACTIONS: list[Action] = [
    Action("fb", "handlers.feedback:press_feedback", shape=FEEDBACK_PAYLOAD),
    Action(MUTE_PREFIX, "handlers.mutes:press_mute", role=Role.ADMIN, shape=MUTE_PAYLOAD),
]


def build_router(context: Context) -> Router:
    return Router(context, COMMANDS, ACTIONS)
