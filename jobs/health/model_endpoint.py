"""The model endpoint's health: `GET {base_url}/models` when a repository uses the llm
reviewer, one probe reused for a while so a flood of `/health` or `/readyz` never
becomes a flood of model requests. The key goes in the header only."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

from jobs.config.schema import Config
from jobs.core.text import duration
from jobs.health.component import Component

MODEL_PROBE_TIMEOUT_S = 3.0
# How long one probe of the model endpoint answers for every health check.
MODEL_PROBE_CACHE_S = 30.0


def uses_llm(config: Config) -> bool:
    default = config.reviewer.default
    return any((repo.reviewer or default) == "llm" for repo in config.repos) or (
        not config.repos and default == "llm"
    )


class ModelProbes:
    """The model endpoint's last probe, reused for `MODEL_PROBE_CACHE_S`: a viewer's
    flood of `/health` (or of `/readyz`) never becomes a flood of model requests.
    Probes at once wait for one another and share its answer."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], tuple[float, Component]] = {}

    def get(self, url: str, api_key: str | None, probe: Callable[[], Component]) -> Component:
        key = (url, hashlib.sha256((api_key or "").encode()).hexdigest())
        with self._lock:
            cached = self._last.get(key)
            if cached is not None and self.clock() - cached[0] < MODEL_PROBE_CACHE_S:
                return cached[1]
            component = probe()
            self._last = {key: (self.clock(), component)}
            return component

    def forget(self) -> None:
        with self._lock:
            self._last = {}


MODEL_PROBES = ModelProbes()


def check_model_endpoint(
    config: Config,
    api_key: str | None = None,
    timeout_s: float = MODEL_PROBE_TIMEOUT_S,
    probes: ModelProbes = MODEL_PROBES,
) -> Component | None:
    """GET {base_url}/models when a repository uses the llm reviewer (at most once in
    MODEL_PROBE_CACHE_S); None otherwise. The key goes in the header only, never into
    the detail."""
    if not uses_llm(config):
        return None
    url = f"{config.reviewer.llm.base_url}/models"
    return probes.get(url, api_key, lambda: _probe_model(url, api_key, timeout_s))


def _probe_model(url: str, api_key: str | None, timeout_s: float) -> Component:
    import httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    started = time.perf_counter()
    try:
        response = httpx.get(url, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Component("model", "down", f"{url} unreachable: {type(exc).__name__}", {"url": url})
    elapsed_ms = (time.perf_counter() - started) * 1000
    data = {"url": url, "http_status": response.status_code, "ms": round(elapsed_ms, 1)}
    if response.status_code in (401, 403):
        return Component(
            "model", "down", f"{url} refused the API key (HTTP {response.status_code})", data
        )
    if response.status_code >= 500:
        return Component("model", "down", f"{url} answered HTTP {response.status_code}", data)
    return Component("model", "up", f"{url} reachable in {duration(elapsed_ms)}", data)
