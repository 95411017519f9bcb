"""State growth: ``checkpoint_growth_{100,1000,5000}``.

A loop of one node appending one 1 KiB string per step to a list channel (append
reducer) for ``steps`` steps, with a checkpoint after every step on a SQLite file.
Each node call records ``time.perf_counter()``; a step's cost is the time from one
node call to the next (the commit, the checkpoint save, planning the next step), the
last step's runs to the end of the run. ``first_us_per_step`` and
``last_us_per_step`` are the mean step cost over the first and the last 10 % of the
steps: with saves that cost what changed, they stay level as the state grows.
``bytes_per_payload`` is the store's file plus WAL after a truncating WAL checkpoint
over the bytes appended (``steps`` x 1 KiB).

* Hive: ``SQLiteCheckpointStore`` (its default ``synchronous=NORMAL``) with
  ``CheckpointPolicy.every(1)``; medians over several runs for the small sizes.
* LangGraph: ``SqliteSaver`` with ``PRAGMA synchronous=NORMAL`` and
  ``durability="sync"`` (the same strength), one run per size, stopped at a time cap
  (the router ends the run once the cap has passed): the row says where. It saves
  the whole list at every step, so its step cost grows with the state. ``ratio``
  compares both engines over the steps LangGraph ran.

See ``docs/performance.md``.
"""

from __future__ import annotations

import functools
import operator
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypedDict

from bench.checkpoint_storage import _bytes_on_disk, _items
from bench.timing import Settings
from hive_core import (
    END,
    CheckpointPolicy,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    StoreView,
    Write,
    channel,
    reducers,
)
from hive_core.persistence import SQLiteCheckpointStore

__all__ = ["group", "growth_row", "step_costs"]

ITEM_BYTES = 1024


class Log(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")


def _cost_of_first(costs: list[float], m: int) -> float:
    return sum(costs[:m])


def step_costs(stamps: Sequence[float], end: float) -> list[float]:
    """Seconds per step: from each node call to the next, the last to ``end``."""
    return [b - a for a, b in zip(stamps, [*stamps[1:], end], strict=True)]


def _edges(costs: Sequence[float]) -> tuple[float, float]:
    """Mean µs per step over the first and the last 10 % of ``costs``."""
    k = max(1, len(costs) // 10)
    return statistics.fmean(costs[:k]) * 1e6, statistics.fmean(costs[-k:]) * 1e6


def _hive_run(path: Path, items: list[str]) -> tuple[list[float], int]:
    """(step costs, bytes on disk) of one checkpointed Hive run."""
    stamps: list[float] = []
    steps = len(items)

    def append(ctx: NodeInput) -> NodeOutput:
        stamps.append(time.perf_counter())
        return NodeOutput(writes=[Write(Log.log, [items[len(stamps) - 1]])])

    def again(view: StoreView) -> Any:
        return ["append"] if len(view.get(Log.log)) < steps else END

    graph = (
        GraphBuilder(Log, start=["append"])
        .add_node("append", append)
        .add_router("append", again)
        .compile()
    )
    with SQLiteCheckpointStore(path) as store:
        options = RunOptions(
            max_steps=steps + 5, checkpoint_policy=CheckpointPolicy.every(1)
        )
        out = Runtime(graph, checkpoint_store=store).run_sync("t", None, options)
        end = time.perf_counter()
        if out.output.get("log") != items:
            raise RuntimeError(f"hive growth run ended wrong: {out.status}")
    return step_costs(stamps, end), _bytes_on_disk(path)


class _LGState(TypedDict):
    log: Annotated[list[str], operator.add]


def _langgraph_run(
    path: Path, items: list[str], cap_s: float
) -> tuple[list[float], int]:
    """(step costs, bytes on disk) of one LangGraph run, ended at ``cap_s``."""
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END as LG_END
    from langgraph.graph import START, StateGraph

    stamps: list[float] = []
    deadline = [0.0]

    def append(state: _LGState) -> dict[str, list[str]]:
        stamps.append(time.perf_counter())
        return {"log": [items[len(stamps) - 1]]}

    def more(state: _LGState) -> str:
        done = len(state["log"]) >= len(items) or time.perf_counter() > deadline[0]
        return LG_END if done else "append"

    builder = StateGraph(_LGState)
    builder.add_node("append", append)
    builder.add_edge(START, "append")
    builder.add_conditional_edges("append", more, ["append", LG_END])
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        conn.execute("PRAGMA synchronous=NORMAL")
        graph = builder.compile(checkpointer=saver)
        config: Any = {
            "configurable": {"thread_id": "t"},
            "recursion_limit": len(items) + 10,
        }
        deadline[0] = time.perf_counter() + cap_s
        result = graph.invoke({"log": []}, config, durability="sync")
        end = time.perf_counter()
        if result["log"] != items[: len(stamps)]:
            raise RuntimeError("langgraph growth run ended wrong")
    finally:
        conn.close()
    return step_costs(stamps, end), _bytes_on_disk(path)


def growth_row(
    steps: int, hive_runs: int, cap_s: float, *, langgraph: bool = True
) -> dict[str, Any]:
    """The ``checkpoint_growth_<steps>`` row."""
    items = _items(steps, ITEM_BYTES)
    payload = steps * ITEM_BYTES
    firsts: list[float] = []
    lasts: list[float] = []
    totals: list[Callable[[int], float]] = []
    sizes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="hive-bench-") as tmp:
        for r in range(hive_runs):
            costs, size = _hive_run(Path(tmp) / f"hive-{r}.db", items)
            first, last = _edges(costs)
            firsts.append(first)
            lasts.append(last)
            totals.append(functools.partial(_cost_of_first, costs))
            sizes.append(size)
        lg = _langgraph_run(Path(tmp) / "lg.db", items, cap_s) if langgraph else None
    first, last = statistics.median(firsts), statistics.median(lasts)
    row: dict[str, Any] = {
        "workload": f"checkpoint_growth_{steps}",
        "steps": steps,
        "item_bytes": ITEM_BYTES,
        "payload_bytes": payload,
        "first_us_per_step": round(first, 1),
        "last_us_per_step": round(last, 1),
        "last_over_first": round(last / first, 3),
        "bytes_per_payload": round(statistics.median(sizes) / payload, 3),
        "hive_bytes": int(statistics.median(sizes)),
        "hive_s": statistics.median(t(steps) for t in totals),
        "hive_runs": hive_runs,
        "hive_synchronous": "NORMAL",
        "langgraph_cap_s": cap_s,
    }
    if lg is not None:
        row.update(_langgraph_fields(lg, steps, totals))
    return row


def _langgraph_fields(
    lg: tuple[list[float], int], steps: int, hive_totals: list[Callable[[int], float]]
) -> dict[str, Any]:
    costs, size = lg
    done = len(costs)
    first, last = _edges(costs)
    lg_s = sum(costs)
    hive_same = statistics.median(t(done) for t in hive_totals)
    return {
        "langgraph_steps": done,
        "langgraph_stopped_at_cap": done < steps,
        "langgraph_first_us_per_step": round(first, 1),
        "langgraph_last_us_per_step": round(last, 1),
        "langgraph_last_over_first": round(last / first, 3),
        "langgraph_bytes": size,
        "langgraph_bytes_per_payload": round(size / (done * ITEM_BYTES), 3),
        "langgraph_s": lg_s,
        "ratio": round(hive_same / lg_s, 4),
        "ratio_over_steps": done,
        "langgraph_durability": "sync",
        "langgraph_synchronous": "NORMAL",
    }


def group(settings: Settings) -> list[dict[str, Any]]:
    """100, 1,000 and 5,000 steps; LangGraph capped at 5 s (``--quick``) or 20 s."""
    cap = 5.0 if settings.quick else 20.0
    runs = {100: 5, 1000: 3, 5000: 1} if not settings.quick else {}
    return [growth_row(n, runs.get(n, 1), cap) for n in (100, 1000, 5000)]
