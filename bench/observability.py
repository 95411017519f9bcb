"""Observation overhead (``--only observability``): the engine with no observer,
against today's engine and with metrics or tracing on.

One workload, a 200-step router loop of plain sync nodes (the engine's own cost
dominates; nothing else hides an overhead), timed per run in fresh interpreters:

* ``today``: the same script against the baseline tree (``HIVE_BENCH_BASELINE``,
  default ``/work/main``, the main branch as it is), which has no observer hook;
* ``off``: this tree, ``Environment()`` (observer ``None``);
* ``metrics``: ``PrometheusMetrics`` observing;
* ``otel``: ``OpenTelemetryObserver`` on an SDK ``TracerProvider`` exporting to
  memory (spans really recorded, cleared after each run).

Runs interleave (today, off, metrics, otel, then rotated) and each reports the
median of its batch; the row keeps the median over repeats and the ratios
``off/today`` (within noise means about 1.0), ``metrics/off`` and ``otel/off``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["run"]

ROOT = Path(__file__).resolve().parent.parent

_SCRIPT = r"""
import json, statistics, sys, time
from hive_core import GraphBuilder, NodeOutput, Runtime, Schema, Write, channel, reducers
from hive_core import Environment, END, RunOptions
mode, steps, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

class S(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")

def inc(ctx):
    return NodeOutput(writes=[Write(S.n, 1)])

def route(view):
    return ["inc"] if view.get(S.n) < steps else END

g = GraphBuilder(S, start=["inc"]).add_node("inc", inc).add_router("inc", route).compile()
env, clear = Environment(), (lambda: None)
if mode == "metrics":
    from hive_core.observability import PrometheusMetrics
    env = Environment(observer=PrometheusMetrics())
elif mode == "otel":
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from hive_core.observability import OpenTelemetryObserver
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    env = Environment(observer=OpenTelemetryObserver(provider))
    clear = exporter.clear
rt = Runtime(g, environment=env)
opts = RunOptions(max_steps=steps + 10)
times = []
for i in range(calls + 3):
    t0 = time.perf_counter()
    out = rt.run_sync(f"t{i}", None, opts)
    t = time.perf_counter() - t0
    assert out.output["n"] == steps, out.output
    clear()
    if i >= 3:
        times.append(t)
print(json.dumps({"median_s": statistics.median(times)}))
"""


def _one(tree: Path, mode: str, steps: int, calls: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode, str(steps), str(calls)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tree,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{mode} in {tree} failed:\n{out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["median_s"])


def run(quick: bool) -> list[dict[str, Any]]:
    baseline = Path(os.environ.get("HIVE_BENCH_BASELINE", "/work/main"))
    steps, calls, repeats = 200, (30 if quick else 60), (5 if quick else 9)
    arms = {"off": (ROOT, "off"), "metrics": (ROOT, "metrics"), "otel": (ROOT, "otel")}
    if (baseline / "hive_core").is_dir() and baseline.resolve() != ROOT:
        arms = {"today": (baseline, "off"), **arms}
    else:
        print(f"observability: no baseline tree at {baseline}", file=sys.stderr)
    samples: dict[str, list[float]] = {k: [] for k in arms}
    labels = list(arms)
    for r in range(repeats):
        k = r % len(labels)
        for label in labels[k:] + labels[:k]:
            tree, mode = arms[label]
            samples[label].append(_one(tree, mode, steps, calls))
    med = {k: statistics.median(v) for k, v in samples.items()}
    low = {k: min(v) for k, v in samples.items()}
    spread = {k: (max(v) - min(v)) / statistics.median(v) for k, v in samples.items()}
    row: dict[str, Any] = {
        "workload": f"observe_loop_{steps}",
        "repeats": repeats,
        **{f"{k}_us_per_step": round(v / steps * 1e6, 3) for k, v in med.items()},
        **{f"{k}_min_us_per_step": round(v / steps * 1e6, 3) for k, v in low.items()},
        **{f"{k}_spread": round(v, 3) for k, v in spread.items()},
    }
    for name, (a, b) in {
        "off_vs_today": ("off", "today"),
        "metrics": ("metrics", "off"),
        "otel": ("otel", "off"),
    }.items():
        if a in med and b in med:
            row[f"{name}_ratio"] = round(med[a] / med[b], 3)
            row[f"{name}_min_ratio"] = round(low[a] / low[b], 3)
    row["note"] = (
        "per-run medians in fresh interpreters, interleaved; *_ratio compares "
        "medians over repeats, *_min_ratio the fastest repeats; spread = "
        "(max - min) / median, the noise off_vs_today is read against"
    )
    return [row]
