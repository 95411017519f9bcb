"""``/metrics`` and the live viewer (``/ui``) in ``hive serve``.

The server's embedded worker records its runs in one ``PrometheusMetrics``
registry, served at ``GET /metrics``; ``GET /ui`` and ``/ui/threads/{thread_id}``
are the trace viewer fed by the run service's event table. Both sit behind the
same API key as the API (only ``GET /ok`` is open). See ``docs/observability.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..events import Event
from ..graph import CompiledGraph
from ..viewer import ServiceThreads, live_routes
from ._backend import Backend

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from ..observability import PrometheusMetrics

__all__ = ["BackendThreads", "observing_routes"]


class BackendThreads:
    """The viewer's ``ThreadSource`` over the backend's service client, looked up
    per request: the client exists only once the app has started."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def threads(self) -> list[str]:
        return await ServiceThreads(self.backend.client).threads()

    async def thread_events(self, thread_id: str) -> Sequence[Event] | None:
        return await ServiceThreads(self.backend.client).thread_events(thread_id)


def observing_routes(
    backend: Backend,
    graphs: Mapping[str, CompiledGraph],
    metrics: PrometheusMetrics | None,
    *,
    ui: bool,
) -> list[BaseRoute]:
    """``/metrics`` when ``metrics`` is given, the ``/ui`` pages when ``ui``. The
    viewer draws a graph's real edges when the server serves a single graph
    (else the edges each thread's trace shows)."""
    from ..observability import metrics_route

    routes: list[BaseRoute] = []
    if metrics is not None:
        routes.append(metrics_route(metrics.registry))
    if ui:
        only = next(iter(graphs.values())) if len(graphs) == 1 else None
        routes += live_routes(BackendThreads(backend), graph=only)
    return routes
