"""The bolt AsyncApp for both Slack modes: its listeners on the one chat pipeline."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat_pipeline import ChatPipeline
from bot.slack.after_ack import AfterAck
from bot.slack.commands import MAIN_COMMAND, routes
from bot.slack.events import PLATFORM
from bot.slack.listeners import SlackListeners
from bot.work_queue import WorkQueue
from handlers.router import Router


def build_app(
    router: Router,
    client: AsyncWebClient,
    *,
    signing_secret: str = "",
    main_command: str = MAIN_COMMAND,
    queue: WorkQueue | None = None,
    after_ack: AfterAck | None = None,
) -> AsyncApp:
    """HTTP mode verifies `signing_secret`; Socket Mode needs none. `after_ack` runs
    what follows the acknowledgements (a test waits for it to settle)."""
    # process_before_response: bolt answers the HTTP request (or socket envelope) as
    # soon as a listener returns, instead of polling every 10 ms for its ack; each
    # listener acks, hands the rest to a task and returns.
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        name="opsdesk",
        process_before_response=True,
    )
    listeners = SlackListeners(
        ChatPipeline(router, PLATFORM, queue),
        routes(main_command),
        prefix=f"{main_command} ",
        after_ack=after_ack or AfterAck(),
    )
    listeners.register(app)
    return app
