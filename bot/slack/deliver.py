"""Outbox posts to Slack channels: targets `slack:<channel id>`.

A reply with a chart is posted as its message, then the chart is uploaded to the
same channel (files_upload_v2: getUploadURLExternal → upload → completeUploadExternal).
If the upload fails after the message went out, the retry uploads the chart only:
the message's ts is remembered per post in this process.

Every message carries Slack message metadata naming its outbox post. When a send
was uncertain (the sender died, or the request timed out, after Slack may have
accepted it), the channel's history since then is read back and a message with
that metadata counts as sent: the post is not sent twice. This needs the
channels:history / groups:history scopes; metadata is exact where comparing text
is not (two runs with the same output are two posts). Without the scope the post is
sent again (at-least-once), and the log says why.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.render import render_message
from bot.slack.uploads import upload_chart
from jobs.outbox.answers import PermanentFailure, RetryAfter, Unavailable
from jobs.outbox.delivery import EDIT_KIND, Post

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
# Slack's own words for "not now": retried for as long as it takes.
LATER_ERRORS = frozenset(
    {"fatal_error", "internal_error", "ratelimited", "request_timeout", "service_unavailable"}
)
DEFAULT_RETRY_AFTER_S = 30.0
POST_EVENT = "opsdesk_post"  # the metadata event type of every message we post
# How far before the uncertain attempt the read-back starts (clock skew), and how
# many pages of history it reads at most.
READ_BACK_MARGIN_S = 60.0
READ_BACK_PAGES = 5


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
    if response.status_code >= 500 or error in LATER_ERRORS:
        return Unavailable(f"Slack answered {response.status_code} {error or ''}".rstrip())
    return exc


class SlackDeliverer:
    """The outbox's way to post to Slack."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._posted: dict[int, str] = {}  # outbox post id → message ts, until done

    async def deliver(self, post: Post) -> str | None:
        try:
            if post.uncertain_since is not None and post.id not in self._posted:
                found = await self.already_posted(post)
                if found is not None:
                    log.info("post %s was already in %s (ts %s)", post.id, post.target_id, found)
                    self._posted[post.id] = found
            return await self._deliver(post)
        except SlackApiError as exc:
            error = classify(exc)
            if isinstance(error, PermanentFailure):
                self._posted.pop(post.id, None)  # the outbox gives this post up
            raise error from exc

    async def already_posted(self, post: Post) -> str | None:
        """The ts of a message in the channel carrying this post's metadata, posted
        since the uncertain attempt; None when there is none (or it cannot be read)."""
        assert post.uncertain_since is not None
        oldest = f"{post.uncertain_since.timestamp() - READ_BACK_MARGIN_S:.6f}"
        cursor: str | None = None
        for _ in range(READ_BACK_PAGES):
            try:
                page = await self.client.conversations_history(
                    channel=post.target_id,
                    oldest=oldest,
                    limit=200,
                    include_all_metadata=True,
                    cursor=cursor,
                )
            except SlackApiError as exc:
                error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
                log.warning(
                    "cannot read %s back to see whether post %s arrived (%s); sending it again",
                    post.target_id,
                    post.id,
                    error or exc.response.status_code,
                )
                return None
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == POST_EVENT and payload.get("outbox_id") == post.id:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                return None
        return None

    async def _deliver(self, post: Post) -> str | None:
        channel = post.target_id
        if post.kind == EDIT_KIND:  # the message it names, redrawn (if it was ever sent)
            if post.thread_ref is not None:
                await self.client.chat_update(
                    channel=channel, ts=post.thread_ref, **render_message(post.reply)
                )
            return post.thread_ref
        ts = self._posted.get(post.id)
        if ts is None:
            response = await self.client.chat_postMessage(
                channel=channel,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": POST_EVENT, "event_payload": {"outbox_id": post.id}},
                thread_ts=post.thread_ref,  # None: a message of its own
                **render_message(post.reply),
            )
            ts = str(response["ts"])
            self._posted[post.id] = ts
        if post.reply.image is not None:
            await upload_chart(self.client, channel, post.reply.image)
        self._posted.pop(post.id, None)
        return ts
