"""Bytes on disk for an append-only channel: Hive's SQLite store vs LangGraph's.

Workload ``checkpoint_storage_100x1k``: a thread whose list channel gains one 1 KiB
string per step, 100 steps, one checkpoint per step, each store on its own file.

* Hive: ``Checkpoint`` objects built directly (``global_data={"log": JSON of the
  list so far}``) and saved with ``SQLiteCheckpointStore`` - the bytes a runtime
  with a JSON list codec would hand the store.
* LangGraph: a ``StateGraph`` with ``log: Annotated[list[str], operator.add]`` and
  one node that loops 100 times appending 1 KiB, checkpointed by ``SqliteSaver``.

``hive_load_latest_us`` is the median time of ``load_latest`` on the finished
thread (rebuilding the channel from its snapshot and deltas).

Bytes are the database file plus its WAL after ``PRAGMA wal_checkpoint(TRUNCATE)``
(no ``VACUUM``); the ``-shm`` index is not data and is not counted. ``payload_bytes``
is the JSON of the final list: what a single copy of the state costs.

``python bench/checkpoint_storage.py [--quick]`` prints one JSON object per line.
"""

from __future__ import annotations

import hashlib
import json
import operator
import random
import sqlite3
import statistics
import string
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypedDict, TypeVar

import msgspec

from hive_core.ids import checkpoint_id
from hive_core.persistence import Checkpoint, SQLiteCheckpointStore

T = TypeVar("T")
_SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine of an ``inline`` store (it never suspends)."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("an inline store suspended")


def _items(steps: int, size: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits
    return ["".join(rng.choices(alphabet, k=size)) for _ in range(steps)]


def _bytes_on_disk(path: Path) -> int:
    """File + WAL after a truncating WAL checkpoint, from a separate connection."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _pragmas(conn: sqlite3.Connection) -> tuple[str, str]:
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    return str(mode), _SYNC_NAMES.get(sync, str(sync))


def hive_storage(path: Path, items: list[str]) -> dict[str, Any]:
    run = uuid.UUID(int=1)
    schema_version = hashlib.sha256(b"schema").hexdigest()
    graph_version = hashlib.sha256(b"graph").hexdigest()
    with SQLiteCheckpointStore(path) as store:
        pragmas = store.pragmas
        for step in range(1, len(items) + 1):
            cp = Checkpoint(
                id=checkpoint_id(run, step),
                thread_id="bench-thread",
                run_id=str(run),
                step_index=step,
                schema_version=schema_version,
                graph_version=graph_version,
                global_data={"log": msgspec.json.encode(items[:step])},
            )
            _drive(store.save(cp))
        timings = []
        for _ in range(31):
            started = time.perf_counter()
            latest = _drive(store.load_latest("bench-thread"))
            timings.append(time.perf_counter() - started)
        load_us = statistics.median(timings) * 1e6
        assert latest is not None
        assert latest.global_data["log"] == msgspec.json.encode(items)
        stats = store.storage_stats()
        size = _bytes_on_disk(path)
    return {
        "bytes": size,
        "journal_mode": pragmas["journal_mode"],
        "synchronous": pragmas["synchronous"],
        "load_latest_us": round(load_us, 1),
        "stats": stats,
    }


class State(TypedDict):
    """LangGraph state: one append-reduced list channel."""

    log: Annotated[list[str], operator.add]


def hive_empty_bytes(path: Path) -> int:
    """A store file with its tables and no checkpoint: the fixed cost."""
    SQLiteCheckpointStore(path).close()
    return _bytes_on_disk(path)


def langgraph_storage(path: Path, items: list[str]) -> dict[str, Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph

    def append(state: State) -> dict[str, list[str]]:
        return {"log": [items[len(state["log"])]]}

    def more(state: State) -> str:
        return "append" if len(state["log"]) < len(items) else END

    builder = StateGraph(State)
    builder.add_node("append", append)
    builder.add_edge(START, "append")
    builder.add_conditional_edges("append", more)
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        graph = builder.compile(checkpointer=saver)
        config: Any = {
            "configurable": {"thread_id": "bench-thread"},
            "recursion_limit": len(items) + 10,
        }
        result = graph.invoke({"log": []}, config)
        assert result["log"] == items
        journal_mode, synchronous = _pragmas(conn)
    finally:
        conn.close()
    return {
        "bytes": _bytes_on_disk(path),
        "journal_mode": journal_mode,
        "synchronous": synchronous,
    }


def storage_workload(name: str, steps: int, item_size: int) -> dict[str, Any]:
    items = _items(steps, item_size)
    payload = len(msgspec.json.encode(items))
    with tempfile.TemporaryDirectory(prefix="hive-bench-") as tmp:
        empty = hive_empty_bytes(Path(tmp) / "empty.db")
        hive = hive_storage(Path(tmp) / "hive.db", items)
        lang = langgraph_storage(Path(tmp) / "langgraph.db", items)
    return {
        "workload": name,
        "steps": steps,
        "item_bytes": item_size,
        "payload_bytes": payload,
        "hive_bytes": hive["bytes"],
        "langgraph_bytes": lang["bytes"],
        "bytes_ratio": round(hive["bytes"] / lang["bytes"], 4),  # hive / langgraph
        "langgraph_over_hive": round(lang["bytes"] / hive["bytes"], 1),
        "hive_over_payload": round(hive["bytes"] / payload, 2),
        "hive_empty_bytes": empty,
        "hive_journal_mode": hive["journal_mode"],
        "hive_synchronous": hive["synchronous"],
        "langgraph_journal_mode": lang["journal_mode"],
        "langgraph_synchronous": lang["synchronous"],
        "hive_load_latest_us": hive["load_latest_us"],
        "hive_rows": hive["stats"],
    }


def run(quick: bool) -> list[dict[str, Any]]:
    """``quick`` runs only the headline workload (100 steps x 1 KiB)."""
    results = [storage_workload("checkpoint_storage_100x1k", 100, 1024)]
    if not quick:
        results.append(storage_workload("checkpoint_storage_1000x100b", 1000, 100))
        results.append(storage_workload("checkpoint_storage_300x4k", 300, 4096))
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv[1:]):
        print(json.dumps(row, sort_keys=False))
