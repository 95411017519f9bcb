"""The ASGI app: routes per resource, problems for errors, the API key check.

``build_app(graphs, settings, extra_routes=...)`` is the one place the app is put
together; other parts (metrics, trace viewer, live pages) mount through
``extra_routes`` (Starlette routes or mounts) and reach the backend at
``request.app.state.backend``. See ``docs/http-api.md``.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import AsyncIterator, Mapping, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import ApiKeyRequiredError, HiveError
from ..graph import CompiledGraph
from ..service import ServiceConfig
from . import _routes_assistants, _routes_runs, _routes_threads
from ._auth import ApiKeyMiddleware
from ._backend import Backend
from ._http import backend_of, json_response
from ._launch import STREAM_MODES
from ._observing import observing_routes
from ._problems import hive_error_handler, http_error_handler, internal_error_handler

if TYPE_CHECKING:
    from ..observability import PrometheusMetrics

__all__ = ["ServerSettings", "build_app", "is_loopback"]


@attrs.frozen(kw_only=True)
class ServerSettings:
    """How the server listens and what it accepts."""

    host: str = "127.0.0.1"
    port: int = 2024
    api_key: str | None = None
    """Required off loopback (``Authorization: Bearer`` or ``x-api-key``)."""
    max_body_bytes: int = 1 << 20
    body_timeout_s: float = 30.0
    """How long a request's body may take to arrive (then 408): a client stalled
    mid-body must not hold a connection forever."""
    service: ServiceConfig = attrs.field(factory=ServiceConfig)
    worker: bool = True
    """Run an embedded worker in the server process (else remote workers run)."""
    metrics: bool = True
    """Serve ``GET /metrics``, counting the embedded worker's runs
    (``docs/observability.md``)."""
    ui: bool = True
    """Serve the live trace viewer at ``GET /ui`` and ``/ui/threads/{thread_id}``."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _version() -> str:
    try:
        return metadata.version("hive-graph")
    except metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        return "0"


async def ok(request: Request) -> Response:
    return json_response({"ok": True})


async def info(request: Request) -> Response:
    backend = backend_of(request)
    return json_response({
        "version": _version(), "server": "hive",
        "flags": {"assistants": True, "crons": False, "langsmith": False},
        "graphs": sorted(backend.graphs), "stream_modes": sorted(STREAM_MODES),
        "worker": backend.worker,
    })  # fmt: skip


def _metrics() -> PrometheusMetrics:
    from ..observability import PrometheusMetrics

    return PrometheusMetrics()


def build_app(
    graphs: Mapping[str, CompiledGraph],
    settings: ServerSettings | None = None,
    *,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The server for ``graphs`` (name → compiled graph). Refuses a non-loopback
    host without an API key (``ApiKeyRequiredError``)."""
    settings = settings or ServerSettings()
    if not is_loopback(settings.host) and not settings.api_key:
        raise ApiKeyRequiredError(settings.host)
    metrics = _metrics() if settings.metrics else None
    backend = Backend(graphs, settings.service, worker=settings.worker, metrics=metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await backend.start()
        try:
            yield
        finally:
            await backend.stop()

    middleware = []
    if settings.api_key:
        middleware.append(Middleware(ApiKeyMiddleware, api_key=settings.api_key))
    routes: list[BaseRoute] = [
        Route("/ok", ok, methods=["GET"]),
        Route("/info", info, methods=["GET"]),
        *_routes_assistants.routes,
        *_routes_threads.routes,
        *_routes_runs.routes,
        *observing_routes(backend, graphs, metrics, ui=settings.ui),
        *extra_routes,
    ]
    handlers: dict[Any, Any] = {
        HiveError: hive_error_handler,
        HTTPException: http_error_handler,
        Exception: internal_error_handler,
    }
    app = Starlette(
        routes=routes, middleware=middleware, lifespan=lifespan,
        exception_handlers=handlers,
    )  # fmt: skip
    app.state.backend = backend
    app.state.max_body = settings.max_body_bytes
    app.state.body_timeout_s = settings.body_timeout_s
    return app
