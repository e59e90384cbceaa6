"""One scrubber: every configured secret is redacted in any letter case and before
any truncation, in logs, run rows, outbox rows, chat replies and CLI output."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.cli import ScrubbingStream
from bot.logs import RedactingFormatter
from handlers.access import Caller
from handlers.catalog import build_router
from jobs.config.schema import Config
from jobs.core import scrub
from jobs.core.reply import Reply
from jobs.outbox.delivery import OutboxSender, Post, enqueue
from jobs.running.command import MAX_OUTPUT_BYTES
from storage.models import JobRun, OutboxPost
from tests.support.cli import TOKENS, opsdesk_with_config
from tests.support.context import jobs_context

TOKEN = TOKENS["TELEGRAM_BOT_TOKEN"]
HALF = TOKEN[: len(TOKEN) // 2]


def test_a_secret_is_redacted_in_any_letter_case_and_url_encoded() -> None:
    scrub.register([TOKEN])
    text = f"a {TOKEN.lower()} b {TOKEN.upper()} c bot{TOKEN.replace(':', '%3A')}/getMe"
    assert scrub.scrub(text) == "a [redacted] b [redacted] c bot[redacted]/getMe"


def test_scrub_cut_never_leaves_the_first_part_of_a_secret_at_the_boundary() -> None:
    scrub.register([TOKEN])
    text = "x" * 90 + TOKEN
    assert HALF not in scrub.scrub_cut(text, 100)
    assert HALF in text[: 100 + len(HALF)], "the naive cut would have leaked it"


def test_a_command_whose_output_splits_a_secret_at_the_cut_stores_none_of_it(
    tmp_path: Path, database_url: str
) -> None:
    # The job prints the (passed) token so that it straddles the 64 KiB cut.
    filler = MAX_OUTPUT_BYTES - len(HALF)
    config = tmp_path / "opsdesk.toml"
    config.write_text(
        f'database_url = "{database_url}"\n'
        "[[jobs]]\n"
        'name = "spill"\n'
        f"command = '''printf '%*s' {filler} '' | tr ' ' x; printf %s \"$T\"'''\n"
        'env = { T = "env:TELEGRAM_BOT_TOKEN" }\n'
        'post_to = ["telegram:1"]\n'
    )
    done = opsdesk_with_config(config, "run-job", "spill", env=TOKENS)
    assert done.returncode == 0, done.stderr
    from storage.db import make_engine

    engine = make_engine(database_url)
    with Session(engine) as session:
        (run,) = session.exec(select(JobRun)).all()
        posts = session.exec(select(OutboxPost)).all()
    assert run.output.startswith("xxx") and "[redacted]" in run.output
    for text in [run.output, *(p.reply_json for p in posts), done.stdout, done.stderr]:
        assert HALF.lower() not in text.lower()


class LowerCasingPlatform:
    """What Telegram's library does: the error quotes the URL, token lower-cased."""

    async def deliver(self, post: Post) -> str | None:
        raise RuntimeError(f"404 for https://api.telegram.org/bot{TOKEN.lower()}/sendMessage")


async def test_a_lower_cased_token_in_a_send_error_is_not_stored_or_logged(
    engine: Engine, caplog: object
) -> None:
    scrub.register([TOKEN])
    enqueue(engine, kind="job", targets=["telegram:1"], reply=Reply.text("hi"), dedupe_key="k")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        await OutboxSender(engine, {"telegram": LowerCasingPlatform()}).send_due()
    finally:
        logging.getLogger().removeHandler(handler)
    with Session(engine) as session:
        (post,) = session.exec(select(OutboxPost)).all()
    assert post.last_error and "[redacted]" in post.last_error
    assert TOKEN.lower() not in post.last_error.lower()
    assert "[redacted]" in stream.getvalue() and TOKEN.lower() not in stream.getvalue().lower()


def test_chat_replies_and_outbox_rows_are_scrubbed(engine: Engine) -> None:
    scrub.register([TOKEN])
    config = Config.model_validate(
        {
            "access": {"admins": ["slack:U1"]},
            "jobs": [{"name": "say", "command": f"echo {TOKEN.swapcase()}"}],
        }
    )
    router = build_router(jobs_context(engine, config))
    reply = router.handle(Caller(platform="slack", user_id="U1", chat_id="C1"), "/run say")
    assert TOKEN.lower() not in reply.model_dump_json().lower()
    (post_id,) = enqueue(
        engine, kind="job", targets=["slack:C1"], reply=Reply.text(TOKEN), dedupe_key="d"
    )
    with Session(engine) as session:
        row = session.get(OutboxPost, post_id)
    assert row is not None and TOKEN not in row.reply_json


def test_cli_output_is_scrubbed() -> None:
    scrub.register([TOKEN])
    out = io.StringIO()
    ScrubbingStream(out).write(f"token={TOKEN.upper()}\n")
    assert out.getvalue() == "token=[redacted]\n"


def test_credentials_in_a_repository_url_and_the_database_url_are_scrubbed(
    tmp_path: Path,
) -> None:
    from jobs.config.loading import load_settings

    config = tmp_path / "opsdesk.toml"
    config.write_text(
        'database_url = "postgresql://ops:DbPassw0rdSecret@127.0.0.1/x"\n'
        '[[repos]]\nname = "api"\nurl = "https://bot:ghp_RepoTokenSecret99@git.example/api.git"\n'
    )
    load_settings(str(config), environ={})
    said = scrub.scrub("fetch https://bot:ghp_repotokensecret99@git… dsn ops:DbPassw0rdSecret@")
    assert "ghp_" not in said.lower() and "DbPassw0rdSecret" not in said
