"""Subprocess used by test_crash_safety.py: run a 12-step workflow with every-step
SQLite checkpoints, optionally freezing at a chosen point so the parent can SIGKILL
it there.

Usage: ``python crash_worker.py DB OUT MODE STEP``

MODE is ``none`` (run to the end), ``between`` (freeze after the checkpoint of STEP
was saved), ``node`` (freeze inside the node of STEP) or ``save`` (freeze inside the
SQLite transaction that saves the checkpoint of STEP). ``OUT`` receives JSON lines:
``{"saved": step_index}`` after every save that returned, ``{"frozen": true}`` when
frozen, and at the end ``{"trace": [...], "store": {...}}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
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
from hive_core.events import trace_to_builtins
from hive_core.persistence import (
    UNFENCED,
    Checkpoint,
    SQLiteCheckpointStore,
    Unfenced,
)
from hive_core.testing import SequentialIds

STEPS = 12


class Crash(Schema):
    count = channel(int, reducer=reducers.sum, update="multi")
    log = channel(list[str], reducer=reducers.append, update="multi")


def main() -> None:
    db, out_path, mode, at = (
        sys.argv[1],
        Path(sys.argv[2]),
        sys.argv[3],
        int(sys.argv[4]),
    )
    out = out_path.open("a", buffering=1)

    def report(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    def freeze() -> None:
        report({"frozen": True})
        time.sleep(60)  # the parent kills us here

    def tick(ctx: NodeInput) -> NodeOutput:
        if mode == "node" and ctx.step == at:
            freeze()
        n = ctx.store.get(Crash.count)
        return NodeOutput(
            writes=[Write(Crash.count, 1), Write(Crash.log, [f"step {ctx.step}: {n}"])]
        )

    graph = (
        GraphBuilder(Crash, start=["tick"])
        .add_node("tick", tick)
        .add_router("tick", lambda v: ["tick"] if v.get(Crash.count) < STEPS else END)
        .compile()
    )

    class Store(SQLiteCheckpointStore):
        async def save(
            self,
            checkpoint: Checkpoint,
            *,
            expected_latest: str | Unfenced | None = UNFENCED,
        ) -> None:
            if mode == "save" and checkpoint.step_index == at + 1:

                def trace(statement: str) -> None:
                    if statement.lstrip().upper().startswith("INSERT"):
                        freeze()

                self._conn.set_trace_callback(trace)
            await super().save(checkpoint, expected_latest=expected_latest)
            report({"saved": checkpoint.step_index})
            if mode == "between" and checkpoint.step_index == at + 1:
                freeze()

    async def go() -> None:
        with Store(db) as store:
            rt = Runtime(graph, checkpoint_store=store, ids=SequentialIds())
            options = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))
            handle = rt.run("crash-thread", None, options)
            events = [e async for e in handle.events]
            outcome = await handle
        report({"trace": trace_to_builtins(events), "store": dict(outcome.output)})

    asyncio.run(go())


if __name__ == "__main__":
    main()
