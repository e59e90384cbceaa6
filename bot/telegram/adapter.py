"""The Telegram ChatAdapter: long polling by default, a webhook with a secret token by
configuration; registers the command menu on start and delivers outbox posts."""

from __future__ import annotations

import datetime as dtm
import errno
import logging
import os
import re
import socket
import time
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from sqlalchemy.engine import Engine
from telegram.error import Forbidden, InvalidToken, TelegramError

from bot.telegram.application import DEFAULT_API_BASE_URL, build_application
from bot.telegram.deliver import TelegramDeliverer
from bot.telegram.listeners import TelegramListeners
from bot.telegram.menus import menu_scopes
from bot.telegram.updates import PLATFORM
from bot.work_queue import WorkQueue
from handlers.router import Router
from jobs.config.schema import TelegramConfig

if TYPE_CHECKING:
    from telegram.ext import Updater

log = logging.getLogger(__name__)

WEBHOOK_MODE_PROBLEM = (
    "telegram.mode = 'webhook' needs TELEGRAM_WEBHOOK_SECRET (1-256 characters "
    "of A-Z, a-z, 0-9, _ and -) so forged updates are rejected"
)
# What Telegram accepts as setWebhook's secret_token (it answers 400 otherwise).
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_FORMAT_PROBLEM = (
    "TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
    "(Telegram refuses any other secret token)"
)


def webhook_secret_problem(mode: str, secret: str | None) -> str | None:
    """Why webhook mode cannot start with this secret, or None."""
    if mode != "webhook":
        return None
    if not secret:
        return WEBHOOK_MODE_PROBLEM
    return None if WEBHOOK_SECRET.fullmatch(secret) else WEBHOOK_FORMAT_PROBLEM


# What the webhook server reads of a request before the secret token is checked:
# tornado (python-telegram-bot's webhook server) buffers a whole body, up to 100 MB by
# default, before the handler sees it. Telegram's updates are a few KB; a stranger's
# bodies are refused at this size unread; a request's head must arrive within the first
# timeout (tornado waits an hour by default), its body within the second. Such
# refusals are not logged: tornado's line for each (at INFO) is a stranger's to
# repeat, as python-telegram-bot's for a wrong secret token is (at DEBUG).
WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
WEBHOOK_HEAD_TIMEOUT_S = 10.0
WEBHOOK_BODY_TIMEOUT_S = 30.0


def bound_webhook_server() -> None:
    """Limit what any tornado HTTPServer this process starts reads of a request
    (python-telegram-bot builds its own and takes no limits: `configure` sets the
    defaults every new HTTPServer is made with)."""
    from tornado.httpserver import HTTPServer  # installed with the telegram extra

    HTTPServer.configure(
        None,
        max_body_size=WEBHOOK_MAX_BODY_BYTES,
        idle_connection_timeout=WEBHOOK_HEAD_TIMEOUT_S,  # tornado's wait for a request head
        body_timeout=WEBHOOK_BODY_TIMEOUT_S,
    )
    logging.getLogger("tornado.general").setLevel(logging.WARNING)


def webhook_socket(host: str, port: int) -> socket.socket:
    """A listening, non-blocking socket on `host` (its first address, IPv4 before IPv6,
    as tornado orders them) and `port`, 0 for one the system picks."""
    family, _, _, _, address = min(
        socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE),
        key=lambda found: found[0],
    )
    listening = socket.create_server(address, family=family)
    listening.setblocking(False)
    return listening


# Binding errors that no retry mends.
CANNOT_LISTEN = {errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL}
# A polling error this recent means the connection is down for health.
ERROR_WINDOW_S = 90.0


class TelegramStartError(RuntimeError):
    """The adapter could not start; the message never contains the token."""


class TelegramAdapter:
    platform = PLATFORM

    def __init__(
        self,
        router: Router,
        engine: Engine,
        token: str,
        config: TelegramConfig,
        *,
        api_base_url: str = DEFAULT_API_BASE_URL,
        webhook_secret: str | None = None,
        poll_timeout: float = 10.0,
        max_retries: int = 2,
        queue: WorkQueue | None = None,
    ) -> None:
        problem = webhook_secret_problem(config.mode, webhook_secret)
        if problem is not None:
            raise ValueError(problem)
        self.config = config
        self.webhook_secret = webhook_secret
        self.poll_timeout = poll_timeout
        self.app = build_application(token, api_base_url, max_retries=max_retries)
        TelegramListeners(router, engine, queue).install(self.app)
        self.router = router
        self._deliverer = TelegramDeliverer(self.app.bot, engine)
        self._last_error_at: float | None = None
        self._webhook_port: int | None = None  # the port webhook mode got, while it listens

    @property
    def deliverer(self) -> TelegramDeliverer:
        return self._deliverer

    async def start(self) -> None:
        """Log in (getMe), publish the command menu, then poll or listen."""
        try:
            await self.app.initialize()
        except InvalidToken:
            # PTB's message quotes the token; it must not reach a log or a traceback.
            raise TelegramStartError(
                "Telegram rejected TELEGRAM_BOT_TOKEN (getMe failed): check the token"
            ) from None
        await self.publish_menus()
        updater = self.app.updater
        assert updater is not None
        if self.config.mode == "webhook":
            await self._start_webhook(updater)
        else:
            await updater.start_polling(
                timeout=dtm.timedelta(seconds=self.poll_timeout),
                allowed_updates=["message", "callback_query"],
                error_callback=self._polling_failed,
            )
        await self.app.start()
        log.info("telegram: connected as @%s (%s)", self.app.bot.username, self.config.mode)

    async def _start_webhook(self, updater: Updater) -> None:
        """Listen on a socket made here, then hand it to python-telegram-bot's webhook
        server (tornado serves a socket it is given as it is): so the port it got is
        known when configured as 0, and a port that cannot be had stops the start
        before Telegram is told the webhook's URL."""
        url = self.config.webhook_url
        assert url is not None
        bound_webhook_server()
        listening = webhook_socket(self.config.webhook_listen, self.config.webhook_port)
        try:
            await updater.start_webhook(
                unix=listening,  # any socket object; PTB takes no listen or port with it
                url_path=urlparse(url).path.strip("/"),
                webhook_url=url,
                secret_token=self.webhook_secret,
                allowed_updates=["message", "callback_query"],
            )
        except BaseException:
            listening.close()
            raise
        self._webhook_port = int(listening.getsockname()[1])
        log.info(
            "telegram: webhook listening on %s:%s", self.config.webhook_listen, self.bound_port
        )

    async def publish_menus(self) -> None:
        """One command menu per scope, so nobody is offered a command they may not use."""
        bot = self.app.bot
        for scope, commands in menu_scopes(self.router):
            if commands:
                await bot.set_my_commands(commands, scope=scope)
            else:
                await bot.delete_my_commands(scope=scope)

    async def stop(self) -> None:
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        self._webhook_port = None  # the webhook server closed its socket as it stopped

    def refusal(self, exc: BaseException) -> str | None:
        if isinstance(exc, TelegramStartError):
            return str(exc)
        if isinstance(exc, InvalidToken | Forbidden):
            return "Telegram rejected TELEGRAM_BOT_TOKEN: check the token"
        if isinstance(exc, OSError) and exc.errno in CANNOT_LISTEN:
            # os.strerror: create_server adds the address to the error's own text.
            reason = os.strerror(exc.errno)
            return f"cannot listen for the webhook on port {self.config.webhook_port}: {reason}"
        return None

    @property
    def bound_port(self) -> int:
        """The port webhook mode listens on (the real one when configured as 0)."""
        if self._webhook_port is not None:
            return self._webhook_port
        return self.config.webhook_port

    def connected(self) -> bool:
        updater = self.app.updater
        if not (self.app.running and updater is not None and updater.running):
            return False
        recent = self._last_error_at is not None
        return not recent or time.monotonic() - (self._last_error_at or 0) > ERROR_WINDOW_S

    def _polling_failed(self, error: TelegramError) -> None:
        self._last_error_at = time.monotonic()
        log.warning("telegram: polling failed: %s: %s", type(error).__name__, error)
