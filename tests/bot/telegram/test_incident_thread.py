"""A failure, its alert, the failures after it and the recovery are one message in the
group and replies to it, the message redrawn in place when it ends; through the
outbox, the real Bot and the Bot API stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.telegram.application import build_application
from bot.telegram.deliver import TelegramDeliverer
from jobs.outbox.delivery import OutboxSender
from tests.standins.telegram_api import TelegramApi, parse_html
from tests.support.clock import TravelClock
from tests.support.context import jobs_context
from tests.support.incident import JOB, incident_config, play_incident, root_ref

GROUP = -100500


async def test_a_failure_its_alert_and_its_recovery_are_one_thread(
    engine: Engine, telegram_api: TelegramApi, tmp_path: Path
) -> None:
    clock = TravelClock()
    healed = tmp_path / "healed"
    context = jobs_context(engine, incident_config(f"telegram:{GROUP}", healed), tmp_path)
    context.clock = clock
    play_incident(context, clock, healed)
    bot = build_application(telegram_api.token, telegram_api.base_url, max_retries=0).bot
    await bot.initialize()
    sender = OutboxSender(engine, {"telegram": TelegramDeliverer(bot, engine)})
    while await sender.send_due():
        pass
    await bot.shutdown()
    sent = telegram_api.called("sendMessage")
    about = [(call, parse_html(call.params["text"])[0]) for call in sent]
    about = [(call, text) for call, text in about if JOB in text]
    assert len(about) == 5  # failed, alert, failed again, ok, recovered
    [root] = [text for call, text in about if "reply_parameters" not in call.params]
    assert "flaky: failed" in root
    root_id = int(root_ref(engine).rpartition(":")[2])
    replied_to = [json.loads(c.params["reply_parameters"])["message_id"] for c, _ in about[1:]]
    assert replied_to == [root_id] * 4
    assert "recovered" in about[-1][1]
    # The one message in the group now says how it ended, its cause kept.
    [redrawn] = telegram_api.called("editMessageText")
    assert int(redrawn.params["message_id"]) == root_id
    shown = telegram_api.messages[(GROUP, root_id)]["text"]
    assert shown.startswith("✅ flaky: ok again after 2 failed runs") and "exit status 1" in shown
