"""A reply's chart into a Slack channel (files_upload_v2: getUploadURLExternal →
upload → completeUploadExternal), after its text; a response URL cannot carry files."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from jobs.core.reply import Image


async def upload_chart(
    client: AsyncWebClient, channel: str, image: Image, thread_ts: str | None = None
) -> None:
    """Upload `image` to `channel` (in a thread with `thread_ts`); SlackApiError on failure."""
    await client.files_upload_v2(
        channel=channel,
        thread_ts=thread_ts,
        file=image.png,
        filename=image.filename,
        title=image.title,
        alt_txt=image.title[:1000],
    )


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`not_in_channel`), or the HTTP status when there is none."""
    response = exc.response
    return str(response.get("error") if isinstance(response.data, dict) else response.status_code)
