"""What keeping SQLite off the event loop costs (``--only sqlite_async``).

``checkpoint_sqlite_async``: one node looping 1,000 supersteps with a checkpoint
after every step on a SQLite file, timed three ways, interleaved repeats, medians:

* ``sync_us_per_step``: ``run_sync`` over the inline store (no event loop at all);
* ``async_us_per_step``: ``asyncio.run(runtime.run(...))``; each store call tries
  once inline without SQLite's busy wait and would move to a worker thread only
  if it met a lock (none here: the uncontended fast path);
* ``thread_us_per_step``: the same async run with every store call made in a worker
  thread (what always leaving the loop would cost; the store's ``acall`` swapped
  for ``asyncio.to_thread`` of its blocking ``call``).

``async_over_sync`` and ``thread_over_async`` are the ratios. See
``docs/persistence.md``.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hive_core import (
    END,
    CheckpointPolicy,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.persistence import SQLiteCheckpointStore

__all__ = ["run"]


class _Loop(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")


def _graph(steps: int) -> Any:
    def inc(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(_Loop.n, 1)])

    return (
        GraphBuilder(_Loop, start=["A"])
        .add_node("A", inc)
        .add_router("A", lambda v: ["A"] if v.get(_Loop.n) < steps else END)
        .compile()
    )


def _time(path: Path, steps: int, how: str) -> float:
    graph = _graph(steps)
    options = RunOptions(
        max_steps=steps + 10, checkpoint_policy=CheckpointPolicy.every(1)
    )
    with SQLiteCheckpointStore(path) as store:
        rt = Runtime(graph, checkpoint_store=store)
        if how == "sync":
            t0 = time.perf_counter()
            out = rt.run_sync("bench", None, options)
            elapsed = time.perf_counter() - t0
        else:
            if how == "thread":
                db = store._db

                async def in_thread(
                    operation: str, fn: Any, *, begin: Any = "BEGIN"
                ) -> Any:
                    return await asyncio.to_thread(db.call, operation, fn, begin=begin)

                db.acall = in_thread  # type: ignore[method-assign]

            async def main() -> Any:
                return await rt.run("bench", None, options)

            t0 = time.perf_counter()
            out = asyncio.run(main())
            elapsed = time.perf_counter() - t0
        assert out.output == {"n": steps}, out
    return elapsed


def run(quick: bool) -> list[dict[str, Any]]:
    steps, repeats = 1000, 3 if quick else 7
    found: dict[str, list[float]] = {"sync": [], "async": [], "thread": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            for how in found:
                found[how].append(_time(Path(tmp) / f"{how}{i}.db", steps, how))
    med = {how: statistics.median(v) / steps * 1e6 for how, v in found.items()}
    return [
        {
            "workload": "checkpoint_sqlite_async",
            "steps": steps,
            "repeats": repeats,
            "sync_us_per_step": round(med["sync"], 2),
            "async_us_per_step": round(med["async"], 2),
            "thread_us_per_step": round(med["thread"], 2),
            "async_over_sync": round(med["async"] / med["sync"], 3),
            "thread_over_async": round(med["thread"] / med["async"], 3),
        }
    ]


if __name__ == "__main__":
    import json

    for row in run(quick=True):
        print(json.dumps(row))
