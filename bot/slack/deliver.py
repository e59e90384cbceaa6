"""Outbox posts to Slack channels: targets `slack:<channel id>`.

A reply with a chart is posted as its message, then the chart is uploaded to the
same channel (files_upload_v2: getUploadURLExternal → upload → completeUploadExternal).
If the upload fails after the message went out, the retry uploads the chart only:
the message's ts is remembered per post in this process.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.render import render_message
from jobs.outbox import PermanentFailure, Post, RetryAfter

log = logging.getLogger(__name__)

# Slack errors that no retry can fix: the outbox marks the post failed at once.
PERMANENT_ERRORS = frozenset(
    {
        "account_inactive",
        "channel_not_found",
        "invalid_auth",
        "invalid_blocks",
        "is_archived",
        "missing_scope",
        "msg_too_long",
        "no_permission",
        "not_authed",
        "not_in_channel",
        "restricted_action",
        "token_revoked",
    }
)
DEFAULT_RETRY_AFTER_S = 30.0


def classify(exc: SlackApiError) -> Exception:
    """Turn Slack's answer into what the outbox understands."""
    response = exc.response
    if response.status_code == 429:
        headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
        try:
            seconds = float(headers.get("retry-after", DEFAULT_RETRY_AFTER_S))
        except (TypeError, ValueError):
            seconds = DEFAULT_RETRY_AFTER_S
        return RetryAfter(seconds, "Slack answered 429")
    error = response.get("error") if isinstance(response.data, dict) else None
    if error in PERMANENT_ERRORS:
        hint = " (invite the bot: /invite @opsdesk)" if error == "not_in_channel" else ""
        return PermanentFailure(f"Slack refused the post: {error}{hint}")
    return exc


class SlackDeliverer:
    """The outbox's way to post to Slack."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._posted: dict[int, str] = {}  # outbox post id → message ts, until done

    async def deliver(self, post: Post) -> str | None:
        try:
            return await self._deliver(post)
        except SlackApiError as exc:
            error = classify(exc)
            if isinstance(error, PermanentFailure):
                self._posted.pop(post.id, None)  # the outbox gives this post up
            raise error from exc

    async def _deliver(self, post: Post) -> str:
        channel = post.target_id
        ts = self._posted.get(post.id)
        if ts is None:
            response = await self.client.chat_postMessage(
                channel=channel,
                unfurl_links=False,
                unfurl_media=False,
                **render_message(post.reply),
            )
            ts = str(response["ts"])
            self._posted[post.id] = ts
        image = post.reply.image
        if image is not None:
            await self.client.files_upload_v2(
                channel=channel,
                file=image.png,
                filename=image.filename,
                title=image.title,
                alt_txt=image.title[:1000],
            )
        self._posted.pop(post.id, None)
        return ts
