"""Observing runs: Prometheus metrics, OpenTelemetry spans, and the hook under both.

* ``RunObserver`` is the hook an ``Environment(observer=...)`` carries; the runtime
  calls it at run, step, task, checkpoint, model-call and tool-call boundaries, and
  makes no call at all when it is ``None``;
* ``PrometheusMetrics`` (the ``metrics`` extra) records counters and histograms;
  ``metrics_route`` serves them from Starlette, ``start_metrics_server`` from a
  worker on 127.0.0.1;
* ``OpenTelemetryObserver`` (the ``otel`` extra) records spans with the GenAI
  semantic conventions for model calls;
* ``combine`` uses several observers at once.

Neither extra is imported until its class is built. See ``docs/observability.md``.
"""

from __future__ import annotations

from .._exports import public as _public
from .._observe import RunInfo, RunObserver
from ._combine import combine
from ._exposition import MetricsServer, metrics_route, start_metrics_server
from ._otel import OpenTelemetryObserver
from ._prometheus import PrometheusMetrics

__all__ = [
    "MetricsServer",
    "OpenTelemetryObserver",
    "PrometheusMetrics",
    "RunInfo",
    "RunObserver",
    "combine",
    "metrics_route",
    "start_metrics_server",
]

_public(__name__, __all__, globals())
