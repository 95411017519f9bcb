"""Prometheus metrics for runs, model calls, breakers and the run service.

``prometheus_client`` (the optional ``metrics`` extra) is imported when a
``PrometheusMetrics`` is built, never by ``import hive_core``. Names carry their unit
(``_seconds``, ``_bytes``, ``_total``) and labels are bounded sets: status, node,
provider, tool, outcome; never thread, run or task ids. The full list is in
``docs/observability.md``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, final

from .._observe import RunInfo

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from ..models import BreakerStateChanged, ChatRequest, ChatResponse, ToolCall

__all__ = ["PrometheusMetrics"]

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_BYTES = tuple(float(4**k) for k in range(4, 14))  # 256 B .. 64 MiB
_BREAKER_STATES = {"closed": 0, "open": 1, "half_open": 2}


@final
class _Call:
    __slots__ = ("label", "started")

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.perf_counter()


def _build(registry: CollectorRegistry, ns: str) -> dict[str, Any]:
    from prometheus_client import Counter, Gauge, Histogram

    def c(name: str, doc: str, labels: Sequence[str] = ()) -> Any:
        return Counter(f"{ns}_{name}", doc, labels, registry=registry)

    def h(
        name: str, doc: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Any:
        return Histogram(
            f"{ns}_{name}", doc, labels, registry=registry, buckets=buckets
        )

    def g(name: str, doc: str, labels: Sequence[str] = ()) -> Any:
        return Gauge(f"{ns}_{name}", doc, labels, registry=registry)

    return {
        "runs_started": c("runs_started", "Attempts started (runs, resumes, ...)."),
        "runs": c("runs", "Attempts ended, by outcome status.", ["status"]),
        "runs_active": g("runs_active", "Attempts running now."),
        "steps": h("step_duration_seconds", "Superstep wall time.", _FAST),
        "tasks": h("task_duration_seconds", "Task wall time.", _FAST, ["node"]),
        "task_failures": c("task_failures", "Tasks failed.", ["node"]),
        "task_retries": c("task_retries", "Task attempts retried.", ["node"]),
        "cp_time": h("checkpoint_save_duration_seconds", "Checkpoint save.", _FAST),
        "cp_size": h("checkpoint_size_bytes", "Checkpoint channel data.", _BYTES),
        "model_calls": c(
            "model_calls", "Model calls, by outcome.", ["provider", "outcome"]
        ),
        "model_time": h(
            "model_call_duration_seconds", "Model call latency.", _SLOW, ["provider"]
        ),
        "tokens": c("model_tokens", "Tokens reported.", ["provider", "type"]),
        "tool_calls": c("tool_calls", "Tool calls, by outcome.", ["tool", "outcome"]),
        "breaker_state": g(
            "model_breaker_state", "0 closed, 1 open, 2 half-open.", ["provider"]
        ),
        "breaker_changes": c(
            "model_breaker_transitions", "Breaker state changes.", ["provider", "state"]
        ),
        "queue_depth": g("service_queue_depth", "Runs waiting in the queue."),
        "queue_wait": h("service_queue_wait_seconds", "Enqueue to start.", _SLOW),
        "recoveries": c("service_recoveries", "Runs taken over from dead workers."),
    }


class PrometheusMetrics:
    """A ``RunObserver`` that records Prometheus metrics in ``registry``.

    ```python
    metrics = PrometheusMetrics()
    runtime = Runtime(graph, environment=Environment(observer=metrics))
    ```
    Serve them with ``metrics_route(metrics.registry)`` (Starlette) or
    ``start_metrics_server(port, metrics.registry)``.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "hive"
    ) -> None:
        from prometheus_client import CollectorRegistry

        self.registry = registry if registry is not None else CollectorRegistry()
        self._m = _build(self.registry, namespace)
        self._task_hist: dict[str, Any] = {}
        """The per-node histogram child, cached: ``labels()`` costs a lock and a
        lookup per call, on the hot path of every task."""

    # ----------------------------------------------------------------- runs

    def run_started(self, run: RunInfo) -> object:
        self._m["runs_started"].inc()
        self._m["runs_active"].inc()
        return None

    def run_ended(self, run: object, status: str, error: BaseException | None) -> None:
        self._m["runs_active"].dec()
        self._m["runs"].labels(status).inc()

    def step_started(self, run: object, step: int, nodes: Sequence[str]) -> object:
        return time.perf_counter()

    def step_ended(self, step: object, *, failed: bool) -> None:
        if isinstance(step, float):
            self._m["steps"].observe(time.perf_counter() - step)

    def task_started(
        self, step: object, node: str, ordinal: int, task_id: str
    ) -> object:
        return _Call(node)

    def task_retried(self, task: object, attempt: int) -> None:
        if isinstance(task, _Call):
            self._m["task_retries"].labels(task.label).inc()

    def task_ended(
        self, task: object, error: BaseException | None, attempts: int
    ) -> None:
        if not isinstance(task, _Call):
            return
        hist = self._task_hist.get(task.label)
        if hist is None:
            hist = self._task_hist[task.label] = self._m["tasks"].labels(task.label)
        hist.observe(time.perf_counter() - task.started)
        if error is not None:
            self._m["task_failures"].labels(task.label).inc()

    def checkpoint_saved(self, run: object, seconds: float, size_bytes: int) -> None:
        self._m["cp_time"].observe(seconds)
        self._m["cp_size"].observe(size_bytes)

    # ---------------------------------------------------------- model, tools

    def model_call_started(
        self, task: object, provider: str, request: ChatRequest
    ) -> object:
        return _Call(provider)

    def model_call_ended(
        self, call: object, response: ChatResponse | None, error: BaseException | None
    ) -> None:
        if not isinstance(call, _Call):
            return
        m, provider = self._m, call.label
        m["model_time"].labels(provider).observe(time.perf_counter() - call.started)
        m["model_calls"].labels(provider, "error" if error else "ok").inc()
        usage = response.usage if response is not None else None
        if usage is not None:
            m["tokens"].labels(provider, "input").inc(usage.input_tokens)
            m["tokens"].labels(provider, "output").inc(usage.output_tokens)

    def tool_call_started(self, task: object, call: ToolCall) -> object:
        return call.name

    def tool_call_ended(
        self, call: object, content: str | None, error: BaseException | None
    ) -> None:
        outcome = "error" if error is not None else "ok"
        self._m["tool_calls"].labels(str(call), outcome).inc()

    # -------------------------------------------------- breakers and service

    def breaker_changed(self, change: BreakerStateChanged) -> None:
        """Pass as a ``CircuitBreaker``'s ``on_change`` (``docs/observability.md``)."""
        self._m["breaker_state"].labels(change.provider).set(
            _BREAKER_STATES[change.state]
        )
        self._m["breaker_changes"].labels(change.provider, change.state).inc()

    def queue_depth(self, depth: int) -> None:
        """The service's queue length now (set by the worker's poll)."""
        self._m["queue_depth"].set(depth)

    def queue_waited(self, seconds: float) -> None:
        """One run waited ``seconds`` between submission and its first attempt."""
        self._m["queue_wait"].observe(seconds)

    def recovered(self, count: int = 1) -> None:
        """``count`` runs were taken over from a dead worker."""
        self._m["recoveries"].inc(count)
