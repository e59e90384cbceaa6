"""The operator's HTTP server in `opsdesk run`: probes, metrics, the JSON API and the
optimization page, on its own address (`[operator].listen`, default 127.0.0.1:8787).

Everything is read-only. With OPSDESK_OPERATOR_TOKEN set, every path but /healthz
needs `Authorization: Bearer <token>`. The HTTP server is asyncio's own
(`httpd.py`); prometheus-client and the run totals behind /metrics are loaded on
the first scrape, the digest and health modules on the first request that needs
them, so a process nobody looks at does not carry them.

It does not share Slack's HTTP-mode server: that one must face the internet (Slack
calls it) and exists only in that mode, while this one serves probes and metrics on
a private address in every mode.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib.util
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.operator.hosts import HostCheck, is_loopback
from bot.operator.httpd import Handler, HttpServer, Request, Response
from bot.operator.public import public_data, without_local_paths
from jobs.context import Context

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from bot.operator.metrics import Leadership
    from jobs.digest.inputs import Period
    from jobs.health.component import HealthReport

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
    from jobs.digest.inputs import as_period

    period = as_period(value)
    if period is None:
        raise BadPeriod(f"unknown period {value[:20]!r}: use day or week")
    return period


def charts_installed() -> bool:
    """Whether the chart can be drawn (the `charts` extra); without it the page is
    tables only."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


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
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        routes: dict[str, Handler] = {
            "/healthz": self.healthz,
            "/readyz": self.readyz,
            "/metrics": self.metrics,
            "/api/digest": self.api_digest,
            "/api/health": self.api_health,
            "/": self.page,
            "/chart.png": self.chart,
        }
        self._http = HttpServer(routes, self._guard)
        public_url = self.context.config.operator.public_url
        self._hosts = HostCheck(self.host, public_url, self.allowed_hosts)
        # Built on the first scrape: prometheus-client, and the first read of the run
        # totals, cost memory that a process nobody scrapes should not carry.
        self._registry: CollectorRegistry | None = None
        self._registry_lock = threading.Lock()
        self.bound_port: int | None = None

    # --- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        try:
            self.bound_port = await self._http.start(self.host, self.port)
        except OSError as exc:
            raise OperatorStartError(
                f"the operator server cannot listen on {self.host}:{self.port} "
                f"({exc.strerror or exc}); change [operator].listen or set "
                "[operator].enabled = false"
            ) from exc
        log.info("operator surface on http://%s:%s/", self.host, self.bound_port)
        if not self.token and not is_loopback(self.host):
            log.warning(
                "the operator surface listens on %s, beyond this machine, without "
                "OPSDESK_OPERATOR_TOKEN: anyone who reaches it can read /metrics, the API "
                "and the page; set the token (or listen on 127.0.0.1)",
                self.host,
            )

    async def stop(self) -> None:
        await self._http.stop()

    # --- around every endpoint ----------------------------------------------------------
    async def _guard(self, request: Request, handler: Handler) -> Response:
        if request.path not in UNPROTECTED and not self._hosts.allows(request.header("Host")):
            return Response.json(
                {"error": "unknown Host: add the name to [operator] allowed_hosts"}, status=421
            )
        authorized = token_matches(request.header("Authorization"), self.token or "")
        if self.token and request.path not in UNPROTECTED and not authorized:
            response = Response.json(
                {"error": "this endpoint needs Authorization: Bearer <token>"}, status=401
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="opsdesk"'
            return response
        try:
            response = await handler(request)
        except BadPeriod as exc:
            response = Response.json({"error": str(exc)}, status=400)
        except Exception:
            log.exception("operator request %s failed", request.path)
            response = Response.json(
                {"error": "internal error; the opsdesk log has the details"}, status=500
            )
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    # --- endpoints --------------------------------------------------------------------
    async def healthz(self, _request: Request) -> Response:
        """Liveness: answered by the event loop itself, nothing else consulted."""
        return Response.text("ok\n")

    def _report(self) -> HealthReport:
        from bot.operator.public import public_report, scheduler_role
        from handlers.health import health_report

        report = health_report(self.context)
        role = scheduler_role(self.leadership())
        if role is not None:
            report.components.insert(0, role)
        return public_report(report)

    async def readyz(self, _request: Request) -> Response:
        """Readiness: 200 when the health report is healthy, else 503 with the report."""
        report = await asyncio.to_thread(self._report)
        return Response.json(report.to_json(), status=200 if report.healthy else 503)

    async def api_health(self, _request: Request) -> Response:
        report = await asyncio.to_thread(self._report)
        return Response.json(report.to_json())

    def _metrics_text(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        with self._registry_lock:
            if self._registry is None:
                from bot.operator.metrics import OpsdeskCollector, metrics_registry

                collector = OpsdeskCollector(self.context, self.leadership)
                self._registry = metrics_registry(collector)
        text = generate_latest(self._registry).decode("utf-8")
        return without_local_paths(text).encode("utf-8"), CONTENT_TYPE_LATEST

    async def metrics(self, _request: Request) -> Response:
        body, content_type = await asyncio.to_thread(self._metrics_text)
        return Response(body=body, content_type=content_type)

    def _digest_json(self, period: Period) -> str:
        from jobs.digest.job import build_digest

        context = self.context
        digest = build_digest(context, period, context.clock())
        return json.dumps(public_data(digest.model_dump(mode="json")))

    async def api_digest(self, request: Request) -> Response:
        """The same object as `opsdesk digest --json`."""
        period = parse_period(request.query.get("period"))
        body = await asyncio.to_thread(self._digest_json, period)
        return Response.text(body, content_type="application/json")

    def _page(self, period: Period) -> str:
        from bot.operator.page import render_page, worker_lines
        from jobs.digest.job import build_digest
        from jobs.runs.waiting import waiting_runs
        from jobs.usage.outlook import month_outlook

        context = self.context
        now = context.clock()
        digest = build_digest(context, period, now)
        digest = type(digest).model_validate(public_data(digest.model_dump()))
        outlook = month_outlook(context)
        workers = worker_lines(context.run_control.slots, waiting_runs(context), now)
        return render_page(
            digest, chart=charts_installed(), generated_at=now, outlook=outlook, workers=workers
        )

    async def page(self, request: Request) -> Response:
        try:
            period = parse_period(request.query.get("period"))
        except BadPeriod as exc:
            return Response.text(f"{exc}\n", status=400)
        html = await asyncio.to_thread(self._page, period)
        return Response.text(html, content_type="text/html")

    def _chart_png(self, period: Period) -> bytes:
        from jobs.digest.job import digest_chart

        context = self.context
        return digest_chart(context, period, context.clock())

    async def chart(self, request: Request) -> Response:
        period = parse_period(request.query.get("period"))
        missing = Response.text(
            "the chart needs the charts extra: pip install 'opsdesk[charts]'\n", status=404
        )
        if not charts_installed():
            return missing
        try:
            png = await asyncio.to_thread(self._chart_png, period)
        except ImportError:
            return missing
        return Response(body=png, content_type="image/png")


async def start_operator_surface(
    context: Context, *, listen: tuple[str, int], token: str | None, leadership: Leadership
) -> OperatorServer:
    allowed = tuple(context.config.operator.allowed_hosts)
    server = OperatorServer(context, listen[0], listen[1], token, leadership, allowed)
    await server.start()
    return server
