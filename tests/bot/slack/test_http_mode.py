"""HTTP mode end to end, once: the adapter serves /slack/events on a port of its own,
a real HTTP client sends what Slack would, the answers reach the Web API stand-in."""

from __future__ import annotations

import json

import aiohttp

from bot.slack import build_app, web_client
from bot.slack.adapter import SlackAdapter
from bot.slack.after_ack import AfterAck
from bot.slack.deliver import SlackDeliverer
from handlers.router import Router
from jobs.context import Context
from tests.bot.slack.conftest import Payloads
from tests.bot.slack.test_presses import findings_message, votes
from tests.standins.slack_api import BOT_TOKEN, SIGNING_SECRET, SlackApi, sign


async def test_over_http_requests_are_verified_acked_and_answered(
    slack_api: SlackApi, slack_router: Router, slack_context: Context, finding_id: int
) -> None:
    after_ack = AfterAck()
    base_url = slack_api.base_url + "api/"
    app = build_app(
        slack_router,
        web_client(BOT_TOKEN, base_url, retry_rate_limits=True),
        signing_secret=SIGNING_SECRET,
        after_ack=after_ack,
    )
    deliverer = SlackDeliverer(web_client(BOT_TOKEN, base_url, retry_rate_limits=False))
    adapter = SlackAdapter(app, deliverer, mode="http", http_host="127.0.0.1", http_port=0)
    payloads = Payloads(slack_api)
    await adapter.start()
    try:
        url = f"http://127.0.0.1:{adapter.bound_port}/slack/events"
        async with aiohttp.ClientSession() as http:

            async def post(body: str, secret: str = SIGNING_SECRET) -> tuple[int, str]:
                async with http.post(url, data=body.encode(), headers=sign(body, secret)) as r:
                    return r.status, await r.text()

            assert adapter.connected()
            status, _ = await post(payloads.command_body("health"), "forged")
            assert status == 401
            assert await post(payloads.command_body("health")) == (200, "")
            status, ack = await post(payloads.command_body("help", trigger_id="2"))
            assert status == 200 and json.loads(ack)["blocks"][0]["type"] == "header"
            blocks = findings_message(slack_context, finding_id)
            assert await post(payloads.action_body(blocks, f"fb:{finding_id}:h")) == (200, "")
            await after_ack.settled()
    finally:
        await adapter.stop()
    (answer,) = slack_api.ok_calls("response")
    # /health answers in one line when all is up.
    assert "All up" in json.dumps(answer.args["blocks"], ensure_ascii=False)
    (update,) = slack_api.ok_calls("chat.update")
    assert "👍 Helpful — marked by alice" in json.dumps(update.args["blocks"], ensure_ascii=False)
    assert [v.verdict for v in votes(slack_context)] == ["helpful"]
