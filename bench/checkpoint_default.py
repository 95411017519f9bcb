"""What the default checkpoint policy costs (``checkpoint_default_policy``).

A ``Runtime`` with a checkpoint store and no policy of its own saves after every
step, so the history has every step to read and fork (``docs/persistence.md``). This
row times the same 200-step loop (one node adding 1, routing to itself) four ways,
interleaved, medians: no store (nothing saved), a SQLite file with
``CheckpointPolicy.on_interrupt()`` (nothing saved either: the loop never
interrupts), a SQLite file with the default (every step), and the in-memory store
with the default. ``ratio`` is the default over ``on_interrupt`` on SQLite.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hive_core import (
    END,
    CheckpointPolicy,
    GraphBuilder,
    InMemoryCheckpointStore,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.graph import CompiledGraph
from hive_core.persistence import CheckpointStore, SQLiteCheckpointStore

__all__ = ["default_policy_row"]


class _Loop(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")


def _graph(steps: int) -> CompiledGraph:
    def inc(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(_Loop.n, 1)])

    return (
        GraphBuilder(_Loop, start=["A"])
        .add_node("A", inc)
        .add_router("A", lambda v: ["A"] if v.get(_Loop.n) < steps else END)
        .compile()
    )


def _timed(
    graph: CompiledGraph,
    steps: int,
    store: CheckpointStore | None,
    policy: CheckpointPolicy | None,
) -> tuple[float, int]:
    rt = Runtime(graph, checkpoint_store=store)
    options = RunOptions(max_steps=steps + 10, checkpoint_policy=policy)
    t0 = time.perf_counter()
    out = rt.run_sync("bench", None, options)
    elapsed = time.perf_counter() - t0
    assert out.output == {"n": steps}, out
    saved = len(rt.get_checkpoint_history_sync("bench")) if store is not None else 0
    return elapsed, saved


def default_policy_row(steps: int = 200, repeats: int = 5) -> dict[str, Any]:
    graph = _graph(steps)
    on_interrupt = CheckpointPolicy.on_interrupt()
    times: dict[str, list[float]] = {}
    saves: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):

            def sqlite(
                name: str, policy: CheckpointPolicy | None, r: int = r
            ) -> tuple[float, int]:
                with SQLiteCheckpointStore(Path(tmp) / f"{name}-{r}.db") as store:
                    return _timed(graph, steps, store, policy)

            variants: dict[str, Callable[[], tuple[float, int]]] = {
                "no_store": lambda: _timed(graph, steps, None, None),
                "sqlite_on_interrupt": lambda: sqlite("oi", on_interrupt),
                "sqlite_default": lambda: sqlite("default", None),
                "memory_default": lambda: _timed(
                    graph, steps, InMemoryCheckpointStore(), None
                ),
            }
            order = list(variants) if r % 2 == 0 else list(reversed(variants))
            for name in order:
                elapsed, saves[name] = variants[name]()
                times.setdefault(name, []).append(elapsed)
    med = {k: statistics.median(v) for k, v in times.items()}
    assert saves["sqlite_default"] == steps and saves["sqlite_on_interrupt"] == 0
    return {
        "workload": "checkpoint_default_policy",
        "hive_s": med["sqlite_default"],
        "peer_s": med["sqlite_on_interrupt"],
        "ratio": med["sqlite_default"] / med["sqlite_on_interrupt"],
        "steps": steps,
        "repeats": repeats,
        **{f"{k}_us_per_step": v / steps * 1e6 for k, v in sorted(med.items())},
        "default_saves": saves["sqlite_default"],
    }


if __name__ == "__main__":
    import json

    print(json.dumps(default_policy_row()))
