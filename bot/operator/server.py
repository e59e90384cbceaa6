"""The operator's HTTP server in `opsdesk run`: probes, metrics, the JSON API and the
optimization page, on its own address (`[operator].listen`, default 127.0.0.1:8787).

Everything is read-only. With OPSDESK_OPERATOR_TOKEN set, every path but /healthz
needs `Authorization: Bearer <token>`. aiohttp and prometheus-client are imported
only when the server starts, so other commands do not pay for them.

It does not share Slack's HTTP-mode server: that one must face the internet (Slack
calls it) and exists only in that mode, while this one serves probes and metrics on
a private address in every mode.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib.util
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from handlers.health import health_report
from jobs.context import Context
from jobs.digest.compute import PERIOD_LENGTH, Period
from jobs.health import Component, HealthReport

if TYPE_CHECKING:
    from aiohttp import web

    from bot.operator.metrics import Leadership

log = logging.getLogger(__name__)

UNPROTECTED = frozenset({"/healthz"})
_CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'"
)


class OperatorStartError(Exception):
    """The operator's server could not listen on its address."""


class BadPeriod(ValueError):
    pass


def parse_period(value: str | None) -> Period:
    if value is None or value == "":
        return "day"
    if value.lower() not in PERIOD_LENGTH:
        raise BadPeriod(f"unknown period {value[:20]!r}: use day or week")
    return cast(Period, value.lower())


def charts_installed() -> bool:
    """Whether the chart can be drawn (the `charts` extra); without it the page is
    tables only."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


def scheduler_role(leading: bool | None) -> Component | None:
    if leading is None:
        return None
    if leading:
        return Component("scheduler role", "up", "this process runs the scheduler")
    return Component(
        "scheduler role", "up", "standing by: another process holds the scheduler lock"
    )


def token_matches(header: str | None, token: str) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode())


@dataclass
class OperatorServer:
    context: Context
    host: str
    port: int
    token: str | None
    leadership: Leadership

    def __post_init__(self) -> None:
        from bot.operator.metrics import OpsdeskCollector, metrics_registry

        self.collector = OpsdeskCollector(self.context, self.leadership)
        self.registry = metrics_registry(self.collector)
        self._runner: web.AppRunner | None = None
        self._warm: asyncio.Task[None] | None = None
        self.bound_port: int | None = None

    # --- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        from aiohttp import web

        @web.middleware
        async def guard(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            return await self._guard(request, handler)

        app = web.Application(middlewares=[guard])
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/api/digest", self.api_digest)
        app.router.add_get("/api/health", self.api_health)
        app.router.add_get("/", self.page)
        app.router.add_get("/chart.png", self.chart)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise OperatorStartError(
                f"the operator server cannot listen on {self.host}:{self.port} "
                f"({exc.strerror or exc}); change [operator].listen or set "
                "[operator].enabled = false"
            ) from exc
        self.bound_port = self._runner.addresses[0][1]
        log.info("operator surface on http://%s:%s/", self.host, self.bound_port)
        # The first scrape sums every run row once; do it now rather than in a scrape.
        self._warm = asyncio.create_task(asyncio.to_thread(self._warm_totals))

    def _warm_totals(self) -> None:
        try:
            for _ in self.collector.collect():
                pass
        except Exception:
            log.warning(
                "could not pre-read the run totals; the first scrape tries again", exc_info=True
            )

    async def warmed(self) -> None:
        """Wait until the first read of the run totals is done (benchmarks)."""
        if self._warm is not None:
            await self._warm

    async def stop(self) -> None:
        if self._warm is not None:
            await asyncio.wait([self._warm], timeout=5)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- middleware ---------------------------------------------------------------------
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        from aiohttp import web

        authorized = token_matches(request.headers.get("Authorization"), self.token or "")
        if self.token and request.path not in UNPROTECTED and not authorized:
            return web.json_response(
                {"error": "this endpoint needs Authorization: Bearer <token>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="opsdesk"'},
            )
        try:
            response = await handler(request)
        except web.HTTPException:
            raise
        except BadPeriod as exc:
            response = web.json_response({"error": str(exc)}, status=400)
        except Exception:
            log.exception("operator request %s failed", request.path)
            response = web.json_response(
                {"error": "internal error; the opsdesk log has the details"}, status=500
            )
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    # --- endpoints --------------------------------------------------------------------
    async def healthz(self, _request: web.Request) -> web.Response:
        """Liveness: answered by the event loop itself, nothing else consulted."""
        from aiohttp import web

        return web.Response(text="ok\n")

    def _report(self) -> HealthReport:
        from bot.operator.public import public_report

        report = health_report(self.context)
        role = scheduler_role(self.leadership())
        if role is not None:
            report.components.insert(0, role)
        return public_report(report)

    async def readyz(self, _request: web.Request) -> web.Response:
        """Readiness: 200 when the health report is healthy, else 503 with the report."""
        from aiohttp import web

        report = await asyncio.to_thread(self._report)
        return web.json_response(report.to_json(), status=200 if report.healthy else 503)

    async def api_health(self, _request: web.Request) -> web.Response:
        from aiohttp import web

        report = await asyncio.to_thread(self._report)
        return web.json_response(report.to_json())

    async def metrics(self, _request: web.Request) -> web.Response:
        from aiohttp import web
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        body = await asyncio.to_thread(generate_latest, self.registry)
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    def _digest_json(self, period: Period) -> str:
        from jobs.digest.job import build_digest

        context = self.context
        return build_digest(context, period, context.clock()).model_dump_json()

    async def api_digest(self, request: web.Request) -> web.Response:
        """The same object as `opsdesk digest --json`."""
        from aiohttp import web

        period = parse_period(request.query.get("period"))
        body = await asyncio.to_thread(self._digest_json, period)
        return web.Response(text=body, content_type="application/json")

    def _page(self, period: Period) -> str:
        from bot.operator.page import render_page
        from jobs.digest.job import build_digest

        context = self.context
        now = context.clock()
        digest = build_digest(context, period, now)
        return render_page(digest, chart=charts_installed(), generated_at=now)

    async def page(self, request: web.Request) -> web.Response:
        from aiohttp import web

        try:
            period = parse_period(request.query.get("period"))
        except BadPeriod as exc:
            return web.Response(text=f"{exc}\n", status=400)
        html = await asyncio.to_thread(self._page, period)
        return web.Response(text=html, content_type="text/html")

    def _chart_png(self, period: Period) -> bytes:
        from jobs.digest.job import digest_chart

        context = self.context
        return digest_chart(context, period, context.clock())

    async def chart(self, request: web.Request) -> web.Response:
        from aiohttp import web

        period = parse_period(request.query.get("period"))
        missing = web.Response(
            text="the chart needs the charts extra: pip install 'opsdesk[charts]'\n", status=404
        )
        if not charts_installed():
            return missing
        try:
            png = await asyncio.to_thread(self._chart_png, period)
        except ImportError:
            return missing
        return web.Response(body=png, content_type="image/png")


async def start_operator_surface(
    context: Context, *, listen: tuple[str, int], token: str | None, leadership: Leadership
) -> OperatorServer:
    server = OperatorServer(context, listen[0], listen[1], token, leadership)
    await server.start()
    return server
