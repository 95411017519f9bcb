"""Hive on PostgreSQL vs LangGraph's ``PostgresSaver`` (``--only postgres``).

Needs a server: ``scripts/with-postgres python bench/run.py --quick --only postgres``
(the URL comes from ``HIVE_TEST_POSTGRES_URL``; without it the group is skipped).
Each run gets a schema of its own on that server, dropped afterwards.

* ``checkpoint_postgres``: one node looping 1,000 supersteps with a checkpoint after
  every step (Hive ``PostgresCheckpointStore`` through ``run_sync``, LangGraph
  ``PostgresSaver`` with ``durability="sync"``), 5 repeats (9 without ``--quick``)
  interleaved in alternating order, medians (one sample moved by ±30% here); then a
  workflow appending 1 KiB per step for 100 steps. ``ratio`` is Hive's time per step
  over LangGraph's on the loop, ``bytes_ratio`` Hive's bytes over LangGraph's after the
  100 appends (``pg_total_relation_size`` of every table of the schema: heap, TOAST
  and indexes). Equal durability: both commit every checkpoint with the server's
  ``synchronous_commit`` (``on``) on the same server; the throwaway cluster of
  ``scripts/with-postgres`` runs with ``fsync=off`` for both.
* ``memory_recall_postgres``: recall p50/p95 over the same corpus and queries as
  ``bench/memory.py`` (stdlib docstrings) on the in-memory, SQLite and Postgres
  stores, with a check that all three return identical hits.
"""

from __future__ import annotations

import asyncio
import operator
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

from bench.checkpoint_storage import _items
from bench.memory import _percentile, build_corpus, make_queries
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

__all__ = ["run"]

EVERY = RunOptions(checkpoint_policy=CheckpointPolicy.every(1), max_steps=5000)


@contextmanager
def _schema(base: str) -> Iterator[tuple[str, Callable[[], int]]]:
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"hive_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')

    def size() -> int:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute("VACUUM")  # settle the free-space and visibility maps
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind = 'r'",
                (name,),
            ).fetchone()
        return int(row[0]) if row else 0

    try:
        yield make_conninfo(base, options=f"-c search_path={name}"), size
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


class Loop(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")


class Log(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")


def _hive(url: str, workload: str, steps: int, items: list[str]) -> float:
    from hive_core.persistence import PostgresCheckpointStore

    if workload == "loop":
        g = GraphBuilder(Loop, start=["A"]).add_node(
            "A", lambda ctx: NodeOutput(writes=[Write(Loop.n, 1)])
        )
        g.add_router("A", lambda v: ["A"] if v.get(Loop.n) < steps else END)
    else:

        def append(ctx: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(Log.log, [items[ctx.step]])])

        g = GraphBuilder(Log, start=["append"]).add_node("append", append)
        g.add_router(
            "append", lambda v: ["append"] if len(v.get(Log.log)) < steps else END
        )
    store = PostgresCheckpointStore(url)
    asyncio.run(store.setup())
    rt = Runtime(g.compile(), checkpoint_store=store)
    t0 = time.perf_counter()
    out = rt.run_sync("bench", None, EVERY)
    elapsed = time.perf_counter() - t0
    assert out.output in ({"n": steps}, {"log": items}), out.output
    store.close()
    return elapsed


class _LoopState(TypedDict):
    n: Annotated[int, operator.add]


class _LogState(TypedDict):
    log: Annotated[list[str], operator.add]


def _langgraph(url: str, workload: str, steps: int, items: list[str]) -> float:
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.graph import START, StateGraph

    builder: Any
    if workload == "loop":
        builder = StateGraph(_LoopState)
        builder.add_node("A", lambda s: {"n": 1})
        builder.add_edge(START, "A")
        builder.add_conditional_edges("A", lambda s: "A" if s["n"] < steps else END)
        start: Any = {"n": 0}
    else:
        builder = StateGraph(_LogState)
        builder.add_node("A", lambda s: {"log": [items[len(s["log"])]]})
        builder.add_edge(START, "A")
        builder.add_conditional_edges(
            "A", lambda s: "A" if len(s["log"]) < steps else END
        )
        start = {"log": []}
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        graph = builder.compile(checkpointer=saver)
        config: Any = {
            "configurable": {"thread_id": "bench"},
            "recursion_limit": steps + 10,
        }
        t0 = time.perf_counter()
        result = graph.invoke(start, config, durability="sync")
        elapsed = time.perf_counter() - t0
    assert result in ({"n": steps}, {"log": items}), result
    return elapsed


def checkpoint_rows(base: str, repeats: int) -> list[dict[str, Any]]:
    items = _items(100, 1024)
    times: dict[str, list[float]] = {"hive": [], "langgraph": []}
    sizes: dict[str, int] = {}
    engines = {"hive": _hive, "langgraph": _langgraph}
    for i in range(repeats):  # interleaved, the order alternating: drift hits both
        for name, fn in list(engines.items())[:: 1 if i % 2 == 0 else -1]:
            with _schema(base) as (url, size):
                times[name].append(fn(url, "loop", 1000, []))
                sizes[f"{name}_1000"] = size()
    append_s: dict[str, float] = {}
    for name, fn in engines.items():
        with _schema(base) as (url, size):
            append_s[name] = fn(url, "log", 100, items)
            sizes[f"{name}_100x1k"] = size()
    hive_s = statistics.median(times["hive"])
    lg_s = statistics.median(times["langgraph"])
    return [
        {
            "workload": "checkpoint_postgres",
            "ratio": hive_s / lg_s,
            "bytes_ratio": sizes["hive_100x1k"] / sizes["langgraph_100x1k"],
            "hive_us_per_step": hive_s / 1000 * 1e6,
            "langgraph_us_per_step": lg_s / 1000 * 1e6,
            "hive_bytes_100x1k": sizes["hive_100x1k"],
            "langgraph_bytes_100x1k": sizes["langgraph_100x1k"],
            "payload_bytes_100x1k": len("".join(items)),
            "hive_bytes_1000_steps": sizes["hive_1000"],
            "langgraph_bytes_1000_steps": sizes["langgraph_1000"],
            "bytes_ratio_1000_steps": sizes["hive_1000"] / sizes["langgraph_1000"],
            "hive_append_us_per_step": append_s["hive"] / 100 * 1e6,
            "langgraph_append_us_per_step": append_s["langgraph"] / 100 * 1e6,
            "repeats": repeats,
            "durability": "synchronous_commit=on for both, same server",
        }
    ]


def recall_row(base: str, docs: int, queries: int) -> dict[str, Any]:
    from hive_core.memory import (
        InMemoryMemoryStore,
        MemoryItem,
        PostgresMemoryStore,
        SQLiteMemoryStore,
    )

    corpus = build_corpus()[:docs]
    asked = [" ".join(q) for q in make_queries(corpus, queries)]
    items = [MemoryItem(namespace=("docs",), key=k, text=t) for k, t in corpus]
    lat: dict[str, list[float]] = {"memory": [], "sqlite": [], "postgres": []}
    with _schema(base) as (url, _), tempfile.TemporaryDirectory() as tmp:

        async def main() -> None:
            stores: dict[str, Any] = {
                "memory": InMemoryMemoryStore(),
                "sqlite": SQLiteMemoryStore(Path(tmp) / "m.db"),
                "postgres": PostgresMemoryStore(url),
            }
            for store in stores.values():
                await store.remember_many(items)
                await store.recall(("docs",), "warm up the index")
            for query in asked:
                hits = {}
                for name, store in stores.items():
                    t0 = time.perf_counter()
                    hits[name] = await store.recall(("docs",), query, 10)
                    lat[name].append(time.perf_counter() - t0)
                assert hits["memory"] == hits["sqlite"] == hits["postgres"], query
            stores["sqlite"].close()
            await stores["postgres"].aclose()

        asyncio.run(main())
    row: dict[str, Any] = {
        "workload": "memory_recall_postgres",
        "docs": len(items),
        "queries": len(asked),
        "identical_hits": True,
    }
    for name, values in lat.items():
        row[f"{name}_p50_us"] = round(_percentile(values, 0.5) * 1e6, 1)
        row[f"{name}_p95_us"] = round(_percentile(values, 0.95) * 1e6, 1)
    return row


def run(quick: bool) -> list[dict[str, Any]]:
    """Every Postgres row; empty (with a note on stderr) without a server."""
    import sys

    base = os.environ.get("HIVE_TEST_POSTGRES_URL")
    if not base:
        print(
            "postgres: skipped: HIVE_TEST_POSTGRES_URL is not set "
            "(run under scripts/with-postgres)",
            file=sys.stderr,
        )
        return []
    rows = checkpoint_rows(base, 5 if quick else 9)
    rows.append(recall_row(base, 5000 if quick else 20000, 100 if quick else 300))
    return rows


if __name__ == "__main__":
    import json

    for row in run(quick=False):
        print(json.dumps(row))
