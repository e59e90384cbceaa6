"""The deliverer of `log:` (and `console:`) targets: the post is written to the log
as plain text. Posts for Slack or Telegram never come here: without their adapter
they stay pending."""

from __future__ import annotations

import logging

from bot.render_text import render_text
from jobs.outbox.delivery import Post

log = logging.getLogger("opsdesk.posts")


class LogDeliverer:
    async def deliver(self, post: Post) -> str | None:
        text, _ = render_text(post.reply, with_buttons=False)
        log.warning("post %s for %s:%s\n%s", post.id, post.platform, post.target_id, text)
        return None
