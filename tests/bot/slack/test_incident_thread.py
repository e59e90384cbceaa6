"""A failure, its alert, the failures after it and the recovery are one post in the
channel and replies in its thread (thread_ts), the post redrawn in place when it ends;
through the outbox and the stand-in."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.runtime import outbox_sender
from bot.slack import web_client
from bot.slack.deliver import SlackDeliverer
from tests.standins.slack_api import BOT_TOKEN, SlackApi
from tests.support.clock import TravelClock
from tests.support.context import jobs_context
from tests.support.incident import JOB, incident_config, play_incident, root_ref


async def test_a_failure_its_alert_and_its_recovery_are_one_thread(
    engine: Engine, slack_api: SlackApi, tmp_path: Path
) -> None:
    clock = TravelClock()
    healed = tmp_path / "healed"
    context = jobs_context(engine, incident_config("slack:C1", healed), tmp_path, clock=clock)
    play_incident(context, clock, healed)
    client = web_client(BOT_TOKEN, slack_api.base_url + "api/", retry_rate_limits=False)
    sender = outbox_sender(context, {"slack": SlackDeliverer(client)})
    while await sender.send_due():
        pass
    about = [
        call.args
        for call in slack_api.ok_calls("chat.postMessage")
        if JOB in json.dumps(call.args["blocks"])
    ]
    assert len(about) == 5  # failed, alert, failed again, ok, recovered
    [root] = [args for args in about if "thread_ts" not in args]
    assert "flaky: failed" in json.dumps(root["blocks"])
    assert [args["thread_ts"] for args in about[1:]] == [root_ref(engine)] * 4
    assert "recovered" in json.dumps(about[-1]["blocks"])
    # The one message in the channel now says how it ended, its cause kept.
    [redrawn] = slack_api.ok_calls("chat.update")
    assert redrawn.args["ts"] == root_ref(engine) and redrawn.args["channel"] == "C1"
    shown = json.dumps(redrawn.args["blocks"], ensure_ascii=False)
    assert "✅ flaky: ok again after 2 failed runs" in shown and "exit status 1" in shown
