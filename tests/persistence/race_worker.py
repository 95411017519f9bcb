"""Subprocess used by test_fencing.py: drive one thread that another process drives
too, and report whether this process advanced it or got ``CheckpointConflict``.

Usage: ``python race_worker.py KIND TARGET NAME`` with KIND ``sqlite`` (TARGET a
file) or ``postgres`` (TARGET a URL). The thread's first step must already be saved.
The first node this process runs prints ``ready`` and blocks until the parent writes
a line to stdin (the barrier: both workers hold the same baseline, then race to
save). The last stdout line is JSON: ``{"advanced": [step indexes saved]}`` or
``{"conflict": {"expected": ..., "actual": ...}}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from fencing_graph import THREAD, counter_graph  # type: ignore[import-not-found]  # run as a script

from hive_core import CheckpointPolicy, RunOptions, Runtime
from hive_core.events import CheckpointSaved
from hive_core.persistence import CheckpointConflict, CheckpointStore


def main() -> None:
    kind, target, name = sys.argv[1:4]
    waited = False

    def barrier() -> None:
        nonlocal waited
        if not waited:
            waited = True
            print("ready", flush=True)
            sys.stdin.readline()

    graph = counter_graph(name, before_write=barrier)

    async def go() -> dict[str, Any]:
        store: Any
        if kind == "sqlite":
            from hive_core.persistence import SQLiteCheckpointStore

            store = SQLiteCheckpointStore(target)
        else:
            from hive_core.persistence import PostgresCheckpointStore

            store = PostgresCheckpointStore(target)
        try:
            return await race(store)
        finally:
            await store.aclose() if kind == "postgres" else store.close()

    async def race(store: CheckpointStore) -> dict[str, Any]:
        rt = Runtime(graph, checkpoint_store=store)
        options = RunOptions(checkpoint_policy=CheckpointPolicy.every(1), max_steps=3)
        handle = rt.run(THREAD, None, options)
        saved: list[int | None] = []
        try:
            async for ev in handle.events:
                if isinstance(ev, CheckpointSaved):
                    saved.append(ev.step)
            await handle
        except CheckpointConflict as exc:
            return {"conflict": {"expected": exc.expected, "actual": exc.actual}}
        return {"advanced": saved}

    print(json.dumps(asyncio.run(go())), flush=True)


if __name__ == "__main__":
    main()
