"""Every-step checkpoints at equal durability: ``checkpoint_equal_normal`` and ``_full``.

A loop of one node adding 1 to ``n`` for ``steps`` supersteps, each step's checkpoint
saved to a SQLite file before the next step starts, on both engines:

* Hive: ``SQLiteCheckpointStore(path, synchronous=...)`` with
  ``CheckpointPolicy.every(1)``;
* LangGraph: ``SqliteSaver`` on a connection set with ``PRAGMA synchronous=...``,
  ``invoke(..., durability="sync")`` (LangGraph's default ``"async"`` writes a
  step's checkpoint while the next step runs, which is weaker than Hive's policy).

Both stores run SQLite in WAL mode; each row reads the journal mode and the
synchronous level back from the connections, so a row states what was measured.

A third variant per level is the floor of any every-step durable checkpoint: a raw
``sqlite3`` loop of ``BEGIN IMMEDIATE``, one 100-byte ``INSERT``, ``COMMIT`` per
step on a WAL file at the same level (:func:`floor_loop`). ``floor_ratio`` is its
per-step cost over LangGraph's: the smallest ``ratio`` any store making one commit
per step could reach on this machine (at ``FULL`` one fsync per commit dominates).

The six variants run in a fresh shuffled order in every repeat, each on a new file;
figures are medians. See ``docs/performance.md``.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.checkpoint import _hive_loop, _langgraph_loop
from bench.timing import Settings, spread

__all__ = ["floor_loop", "group", "rows"]

LEVELS = ("NORMAL", "FULL")
SEED = 20_261_123


def floor_loop(
    path: Path, steps: int, synchronous: str
) -> tuple[float, dict[str, str]]:
    """``steps`` commits of one 100-byte row each, WAL, ``synchronous`` as given."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")  # one of LEVELS
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        row = (b"x" * 100,)
        t0 = time.perf_counter()
        for _ in range(steps):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (v) VALUES (?)", row)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
        level = int(conn.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        conn.close()
    names = {1: "NORMAL", 2: "FULL"}
    return elapsed, {"journal_mode": mode, "synchronous": names.get(level, str(level))}


def rows(steps: int, repeats: int, seed: int = SEED) -> list[dict[str, Any]]:
    """One row per synchronous level, from one shuffled, interleaved measurement."""
    variants: dict[str, Callable[[Path], tuple[float, dict[str, str]]]] = {}
    for level in LEVELS:
        variants[f"hive_{level}"] = functools.partial(
            _hive_loop, steps=steps, synchronous=level
        )
        variants[f"langgraph_{level}"] = functools.partial(
            _langgraph_loop, steps=steps, synchronous=level, durability="sync"
        )
        variants[f"floor_{level}"] = functools.partial(
            floor_loop, steps=steps, synchronous=level
        )
    times: dict[str, list[float]] = {k: [] for k in variants}
    pragmas: dict[str, dict[str, str]] = {}
    rng = random.Random(seed)
    orders: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="hive-bench-") as tmp:
        for r in range(repeats):
            order = list(variants)
            rng.shuffle(order)
            orders.append(order)
            for name in order:
                elapsed, pragmas[name] = variants[name](Path(tmp) / f"{name}-{r}.db")
                times[name].append(elapsed)
    out = []
    for level in LEVELS:
        h, g = times[f"hive_{level}"], times[f"langgraph_{level}"]
        hive_s, lg_s = statistics.median(h), statistics.median(g)
        floor_s = statistics.median(times[f"floor_{level}"])
        hp, lp = pragmas[f"hive_{level}"], pragmas[f"langgraph_{level}"]
        if pragmas[f"floor_{level}"]["synchronous"] != level:
            raise RuntimeError(f"floor loop ran at {pragmas[f'floor_{level}']}")
        out.append(
            {
                "workload": f"checkpoint_equal_{level.lower()}",
                "hive_s": hive_s,
                "langgraph_s": lg_s,
                "ratio": round(hive_s / lg_s, 4),
                "steps": steps,
                "repeats": repeats,
                "hive_us_per_step": round(hive_s / steps * 1e6, 1),
                "langgraph_us_per_step": round(lg_s / steps * 1e6, 1),
                "floor_us_per_step": round(floor_s / steps * 1e6, 1),
                "floor_ratio": round(floor_s / lg_s, 4),
                "hive_over_floor": round(hive_s / floor_s, 2),
                "hive_spread": round(spread(h), 3),
                "langgraph_spread": round(spread(g), 3),
                "hive_policy": "every_step",
                "langgraph_durability": "sync",
                "hive_journal_mode": hp.get("journal_mode", ""),
                "hive_synchronous": hp.get("synchronous", ""),
                "langgraph_journal_mode": lp["journal_mode"],
                "langgraph_synchronous": lp["synchronous"],
                "order": "shuffled per repeat",
                "first_orders": [",".join(o) for o in orders[:2]],
            }
        )
    return out


def group(settings: Settings) -> list[dict[str, Any]]:
    """``--quick``: 100 steps, 3 repeats; full: 300 steps, 9 repeats (an fsync per
    step makes the FULL variants take milliseconds per step)."""
    if settings.quick:
        return rows(100, 3)
    return rows(300, 9)
