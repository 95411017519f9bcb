"""Checkpointed workloads, Hive vs LangGraph, both on SQLite files (``--only checkpoint``).

* ``checkpoint_loop_1000``: one node routing to itself for 1000 supersteps with a
  checkpoint after every step (Hive ``SQLiteCheckpointStore``, LangGraph
  ``SqliteSaver``), interleaved repeats, medians.
* ``checkpoint_runtime_100x1k``: a real Hive workflow appending 1 KiB per step for 100
  steps with every-step checkpoints, bytes on disk vs LangGraph doing the same.
* ``checkpoint_default_policy``: what the default policy with a store (every step)
  costs over ``on_interrupt`` (``bench/checkpoint_default.py``).
* the store-level storage rows of ``bench/checkpoint_storage.py``.

Durability is stated per row: both stores use WAL; Hive uses ``synchronous=NORMAL``
(no lost commit on a process crash or ``kill -9``; only power loss can drop the last
transactions), LangGraph's saver leaves SQLite's default ``FULL``. Both survive
``kill -9`` without losing a committed checkpoint, which is the comparison ``ratio``
makes; the loop is also timed with both on ``NORMAL`` (``ratio_both_normal``) and both
on ``FULL`` (``ratio_both_full``), where an fsync per commit dominates both.
"""

from __future__ import annotations

import operator
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

from bench.checkpoint_default import default_policy_row
from bench.checkpoint_storage import _bytes_on_disk, _items, langgraph_storage
from bench.checkpoint_storage import run as storage_run
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

EVERY = CheckpointPolicy.every(1)


class Loop(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")


def _hive_loop(
    path: Path, steps: int, synchronous: str
) -> tuple[float, dict[str, str]]:
    def inc(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Loop.n, 1)])

    graph = (
        GraphBuilder(Loop, start=["A"])
        .add_node("A", inc)
        .add_router("A", lambda v: ["A"] if v.get(Loop.n) < steps else END)
        .compile()
    )
    with SQLiteCheckpointStore(path, synchronous=synchronous) as store:  # type: ignore[arg-type]
        rt = Runtime(graph, checkpoint_store=store)
        options = RunOptions(max_steps=steps + 10, checkpoint_policy=EVERY)
        t0 = time.perf_counter()
        out = rt.run_sync("bench", None, options)
        elapsed = time.perf_counter() - t0
        assert out.output == {"n": steps}, out
        pragmas = dict(store.pragmas)
    return elapsed, pragmas


class _LGState(TypedDict):
    n: Annotated[int, operator.add]


def _langgraph_loop(
    path: Path,
    steps: int,
    synchronous: str | None = None,
    durability: str | None = None,
) -> tuple[float, dict[str, str]]:
    """One checkpointed loop on ``SqliteSaver``; ``synchronous`` is set with a PRAGMA
    on the saver's connection, ``durability`` is passed to ``invoke`` (LangGraph's
    default, ``"async"``, saves a step's checkpoint while the next step runs;
    ``"sync"`` saves it before the next step starts, as Hive's every-step policy)."""
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END as LG_END
    from langgraph.graph import START, StateGraph

    def inc(state: _LGState) -> dict[str, int]:
        return {"n": 1}

    def more(state: _LGState) -> str:
        return "A" if state["n"] < steps else LG_END

    builder = StateGraph(_LGState)
    builder.add_node("A", inc)
    builder.add_edge(START, "A")
    builder.add_conditional_edges("A", more)
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        if synchronous is not None:
            conn.execute(f"PRAGMA synchronous={synchronous}")
        graph = builder.compile(checkpointer=saver)
        config: Any = {
            "configurable": {"thread_id": "bench"},
            "recursion_limit": steps + 10,
        }
        kwargs: dict[str, Any] = (
            {} if durability is None else {"durability": durability}
        )
        t0 = time.perf_counter()
        result = graph.invoke({"n": 0}, config, **kwargs)
        elapsed = time.perf_counter() - t0
        assert result["n"] == steps, result
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
            conn.execute("PRAGMA synchronous").fetchone()[0]
        ]
    finally:
        conn.close()
    return elapsed, {"journal_mode": str(mode), "synchronous": sync}


def _median_interleaved(
    runs: dict[str, Callable[[Path], tuple[float, dict[str, str]]]], repeats: int
) -> dict[str, tuple[float, dict[str, str]]]:
    times: dict[str, list[float]] = {k: [] for k in runs}
    pragmas: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for name, fn in runs.items():
                elapsed, pragmas[name] = fn(Path(tmp) / f"{name}-{r}.db")
                times[name].append(elapsed)
    return {k: (statistics.median(v), pragmas[k]) for k, v in times.items()}


def loop_workload(steps: int, repeats: int) -> dict[str, Any]:
    res = _median_interleaved(
        {
            "hive": lambda p: _hive_loop(p, steps, "NORMAL"),
            "hive_full": lambda p: _hive_loop(p, steps, "FULL"),
            "langgraph": lambda p: _langgraph_loop(p, steps),
            "langgraph_normal": lambda p: _langgraph_loop(p, steps, "NORMAL"),
        },
        repeats,
    )
    hive_s, hive_p = res["hive"]
    full_s, _ = res["hive_full"]
    lg_s, lg_p = res["langgraph"]
    lg_normal_s, _ = res["langgraph_normal"]
    return {
        "workload": f"checkpoint_loop_{steps}",
        "hive_s": hive_s,
        "langgraph_s": lg_s,
        "ratio": hive_s / lg_s,
        "hive_full_sync_s": full_s,
        "langgraph_normal_sync_s": lg_normal_s,
        "ratio_both_normal": hive_s / lg_normal_s,
        "ratio_both_full": full_s / lg_s,
        "hive_us_per_step": hive_s / steps * 1e6,
        "langgraph_us_per_step": lg_s / steps * 1e6,
        "repeats": repeats,
        "hive_journal_mode": hive_p.get("journal_mode", ""),
        "hive_synchronous": hive_p.get("synchronous", ""),
        "langgraph_journal_mode": lg_p["journal_mode"],
        "langgraph_synchronous": lg_p["synchronous"],
    }


class Log(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")


def runtime_storage_workload(steps: int, size: int) -> dict[str, Any]:
    items = _items(steps, size)

    def append(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Log.log, [items[ctx.step]])])

    graph = (
        GraphBuilder(Log, start=["append"])
        .add_node("append", append)
        .add_router(
            "append", lambda v: ["append"] if len(v.get(Log.log)) < steps else END
        )
        .compile()
    )
    with tempfile.TemporaryDirectory() as tmp:
        hive_path = Path(tmp) / "hive.db"
        with SQLiteCheckpointStore(hive_path) as store:
            out = Runtime(graph, checkpoint_store=store).run_sync(
                "t", None, RunOptions(max_steps=steps + 5, checkpoint_policy=EVERY)
            )
            assert out.output["log"] == items
            pragmas = dict(store.pragmas)
        hive_bytes = _bytes_on_disk(hive_path)
        lang = langgraph_storage(Path(tmp) / "lg.db", items)
    payload = len("".join(items))
    return {
        "workload": f"checkpoint_runtime_{steps}x{size // 1024}k",
        "hive_bytes": hive_bytes,
        "langgraph_bytes": lang["bytes"],
        "bytes_ratio": hive_bytes / lang["bytes"],
        "payload_bytes": payload,
        "hive_over_payload": hive_bytes / payload,
        "hive_journal_mode": pragmas.get("journal_mode", ""),
        "hive_synchronous": pragmas.get("synchronous", ""),
        "langgraph_journal_mode": lang["journal_mode"],
        "langgraph_synchronous": lang["synchronous"],
    }


def run(quick: bool) -> list[dict[str, Any]]:
    """All checkpoint rows; ``quick`` trims repeats and sizes."""
    rows = [loop_workload(1000, 1 if quick else 3)]
    rows.append(runtime_storage_workload(100, 1024))
    rows.append(default_policy_row(100 if quick else 200, 3 if quick else 5))
    rows.extend(storage_run(quick))
    return rows


if __name__ == "__main__":
    import json

    for row in run(quick=False):
        print(json.dumps(row))
