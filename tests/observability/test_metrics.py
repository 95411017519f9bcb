"""Prometheus metrics: a real /metrics scrape during and after a multi-run workload,
checked against the runs' own events."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

pytest.importorskip("prometheus_client")
from _scrape import samples, value

from hive_core import (
    CheckpointPolicy,
    Environment,
    InMemoryCheckpointStore,
    RunOptions,
    Runtime,
)
from hive_core.events import Event
from hive_core.observability import PrometheusMetrics, start_metrics_server
from hive_core.testing import SequentialIds

RUNS = 6


async def drain(handle: Any) -> list[Event]:
    return [ev async for ev in handle.events]


def test_scrape_during_and_after_a_workload(make_workload: Any) -> None:
    metrics = PrometheusMetrics()
    server = start_metrics_server(metrics.registry)
    try:
        asyncio.run(_workload(make_workload, metrics, server.url))
    finally:
        server.close()


async def _workload(make_workload: Any, metrics: PrometheusMetrics, url: str) -> None:
    gate = asyncio.Event()
    rt = Runtime(
        make_workload(gate),
        environment=Environment(observer=metrics),
        checkpoint_store=InMemoryCheckpointStore(),
        ids=SequentialIds(),
    )
    every = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))
    runs = [
        asyncio.ensure_future(drain(rt.run(f"t{i}", {}, every))) for i in range(RUNS)
    ]
    async with httpx.AsyncClient() as http:
        for _ in range(1000):  # every run is parked on the gate in its first step
            during = samples((await http.get(url)).text)
            if value(during, "hive_runs_active") == RUNS:
                break
            await asyncio.sleep(0)
        assert value(during, "hive_runs_active") == RUNS
        assert value(during, "hive_runs_started_total") == RUNS
        assert value(during, "hive_runs_total", status="finished") == 0
        gate.set()
        traces = await asyncio.gather(*runs)
        after = samples((await http.get(url)).text)
    events = [ev for trace in traces for ev in trace]
    kinds = Counter(type(ev).__name__ for ev in events)
    assert value(after, "hive_runs_active") == 0
    assert value(after, "hive_runs_total", status="finished") == kinds["RunFinished"]
    assert value(after, "hive_step_duration_seconds_count") == kinds["StepFinished"]
    ends = Counter(
        ev.node  # type: ignore[attr-defined]
        for ev in events
        if type(ev).__name__ in ("TaskFinished", "TaskFailed")
    )
    for node, count in ends.items():
        assert value(after, "hive_task_duration_seconds_count", node=node) == count
    # flaky fails once per run and succeeds on its retry: a retry, not a failure
    assert value(after, "hive_task_retries_total", node="flaky") == RUNS
    assert value(after, "hive_task_failures_total", node="flaky") == 0
    saved = kinds["CheckpointSaved"]
    assert saved == RUNS * 2
    assert value(after, "hive_checkpoint_save_duration_seconds_count") == saved
    assert value(after, "hive_checkpoint_size_bytes_count") == saved
    assert value(after, "hive_checkpoint_size_bytes_sum") > 0
    calls = kinds["ModelInvocationStarted"]
    assert calls == RUNS
    assert (
        value(after, "hive_model_calls_total", provider="scripted", outcome="ok")
        == calls
    )
    assert (
        value(after, "hive_model_call_duration_seconds_count", provider="scripted")
        == calls
    )
    assert (
        value(after, "hive_model_tokens_total", provider="scripted", type="input")
        == 7 * calls
    )
    assert (
        value(after, "hive_model_tokens_total", provider="scripted", type="output")
        == 3 * calls
    )


def test_labels_are_bounded(make_workload: Any) -> None:
    """No thread, run or task id ever becomes a label value."""
    metrics = PrometheusMetrics()
    rt = Runtime(make_workload(), environment=Environment(observer=metrics))
    for i in range(3):
        rt.run_sync(f"thread-{i}", {})
    from prometheus_client import generate_latest

    got = samples(generate_latest(metrics.registry).decode())
    labels = {v for (_, ls) in got for _, v in ls}
    assert not any(v.startswith("thread-") for v in labels)
    assert labels <= {
        "finished",
        "ask",
        "flaky",
        "fan",
        "scripted",
        "ok",
        "input",
        "output",
    } | {str(b) for (_, ls) in got for k, b in ls if k == "le"}


def test_a_failed_task_counts_and_the_run_ends_in_error(make_workload: Any) -> None:
    from hive_core import GraphBuilder, NodeError, NodeInput, Schema, channel

    class S(Schema):
        x = channel(int)

    def boom(inp: NodeInput) -> None:
        raise ValueError("no")

    g = GraphBuilder(S, start=["boom"]).add_node("boom", boom).compile()
    metrics = PrometheusMetrics()
    rt = Runtime(g, environment=Environment(observer=metrics))
    with pytest.raises(NodeError):
        rt.run_sync("t", {})
    from prometheus_client import generate_latest

    got = samples(generate_latest(metrics.registry).decode())
    assert value(got, "hive_task_failures_total", node="boom") == 1
    assert value(got, "hive_runs_total", status="error") == 1
    assert value(got, "hive_step_duration_seconds_count") == 1


def test_nothing_is_imported_or_called_without_an_observer(
    make_workload: Any,
) -> None:
    """The default run never loads the observability code or its extras."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from hive_core import GraphBuilder, NodeOutput, Runtime, Schema, channel\n"
        "class S(Schema):\n"
        "    x = channel(int)\n"
        "g = GraphBuilder(S, start=['a']).add_node('a', lambda i: NodeOutput())"
        ".compile()\n"
        "assert Runtime(g).run_sync('t').status == 'finished'\n"
        "loaded = [m for m in sys.modules if m.startswith(("
        "'prometheus_client', 'opentelemetry', 'hive_core.observability', "
        "'hive_core.viewer', 'starlette'))]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
