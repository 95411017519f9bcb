"""Serving metrics: a Starlette route ``hive serve`` mounts, and a small HTTP server
a worker starts on 127.0.0.1 (prometheus_client's own)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from starlette.routing import Route

__all__ = ["MetricsServer", "metrics_route", "start_metrics_server"]


def metrics_route(registry: CollectorRegistry, path: str = "/metrics") -> Route:
    """A Starlette ``GET path`` route answering in the Prometheus text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def endpoint(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Route(path, endpoint, methods=["GET"], name="metrics")


@final
class MetricsServer:
    """A running ``/metrics`` server; ``close()`` stops it."""

    def __init__(self, server: Any, thread: Any) -> None:
        self._server = server
        self._thread = thread
        self.host: str = server.server_address[0]
        self.port: int = server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def start_metrics_server(
    registry: CollectorRegistry, port: int = 0, *, host: str = "127.0.0.1"
) -> MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread.

    ``port=0`` picks a free port (read it back from ``.port``). The default host
    keeps metrics off the network; put a proxy in front to publish them.
    """
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host, registry=registry)
    return MetricsServer(server, thread)
