"""TinyGraph: fan-out with task-local state, a join barrier, an approval interrupt,
and a resume from a fresh process, with checkpoints in a SQLite file.

Run it with ``python examples/tiny_graph.py``. It

1. prints the compiled graph as Mermaid,
2. runs thread ``example-thread`` until ``Gate`` asks for review (the interrupt is
   checkpointed to SQLite),
3. starts a *new Python process* that opens the same SQLite file and resumes the
   thread with the typed payload ``"approved"``,

printing each attempt's event trace. Both workers' results arrive in spawn order,
whichever finished first.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from hive_core import (
    END,
    CheckpointPolicy,
    CompiledGraph,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Outcome,
    RunHandle,
    RunOptions,
    Runtime,
    Schema,
    Spawn,
    Utf8Codec,
    Write,
    channel,
    reducers,
)
from hive_core.events import Event, trace_to_builtins
from hive_core.persistence import SQLiteCheckpointStore

THREAD = "example-thread"
OPTIONS = RunOptions(checkpoint_policy=CheckpointPolicy.on_interrupt())


class TinySchema(Schema):
    """Results are shared; each worker's item is task-local."""

    results = channel(list[str], reducer=reducers.append, update="multi", initial=list)
    item = channel(str, scope="task_local", codec=Utf8Codec())
    interrupt_payload = str
    resume_payload = str


def start(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(
        spawn=[
            Spawn("WorkerA", {TinySchema.item: "apple"}),
            Spawn("WorkerB", {TinySchema.item: "banana"}),
        ],
        next=END,
    )


async def worker(ctx: NodeInput) -> NodeOutput:
    item = ctx.store.get(TinySchema.item)
    await asyncio.sleep(0.02 if item == "apple" else 0.0)  # apple finishes last
    line = f"{ctx.node_id} processed {item}"
    return NodeOutput(writes=[Write(TinySchema.results, [line])], next=END)


def gate(ctx: NodeInput) -> NodeOutput:
    print(f"  Gate sees: {ctx.store.get(TinySchema.results)}")
    return NodeOutput(interrupt="review")


def finalize(ctx: NodeInput) -> NodeOutput:
    payload = ctx.resume.payload if ctx.resume is not None else None
    print(f"  Finalize got resume payload {payload!r}")
    return NodeOutput(writes=[Write(TinySchema.results, [f"finalized: {payload}"])])


def build() -> CompiledGraph:
    g = GraphBuilder(TinySchema, start=["Start"])
    g.add_node("Start", start)
    g.add_node("WorkerA", worker)
    g.add_node("WorkerB", worker)
    g.add_node("Gate", gate)
    g.add_node("Finalize", finalize)
    g.add_join_edge(["WorkerA", "WorkerB"], "Gate")
    g.add_edge("Gate", "Finalize")
    return g.compile()


def format_event(event: dict[str, object]) -> str:
    """One readable line per event: where it happened, what, and its fields."""
    step = event.get("step")
    where = f"step {step}" if step is not None else "run"
    if "ordinal" in event:
        where += f" task {event['ordinal']}"
    skip = {"kind", "index", "step", "ordinal", "metadata"}
    fields = []
    for key, value in event.items():
        if key in skip:
            continue
        text = str(value)
        if len(text) == 64:  # ids and hashes: the first 12 hex digits suffice
            text = text[:12] + "…"
        fields.append(f"{key}={text}")
    return f"  {event['index']:>3}  {where:<14} {event['kind']:<18} {' '.join(fields)}"


async def traced(handle: RunHandle) -> Outcome:
    events: list[Event] = [e async for e in handle.events]
    for line in trace_to_builtins(events):
        print(format_event(line))
    return await handle


async def first_half(db: Path) -> None:
    graph = build()
    print("Graph (Mermaid):")
    print(graph.to_mermaid())
    with SQLiteCheckpointStore(db) as store:
        runtime = Runtime(graph, checkpoint_store=store)
        print(f"\nRun {THREAD!r} until the gate asks for review:")
        outcome = await traced(runtime.run(THREAD, None, OPTIONS))
    assert outcome.interrupt is not None
    print(f"Outcome: {outcome.status}, payload {outcome.interrupt.payload!r}")
    print(f"Checkpoint {outcome.checkpoint_id} saved to {db.name}\n")
    print("Resuming in a fresh process:")
    subprocess.run(
        [sys.executable, __file__, "--resume", str(db), outcome.interrupt.id],
        check=True,
    )


async def second_half(db: Path, interrupt_id: str) -> None:
    with SQLiteCheckpointStore(db) as store:
        runtime = Runtime(build(), checkpoint_store=store)
        outcome = await traced(
            runtime.resume(THREAD, interrupt_id, "approved", OPTIONS)
        )
    print(f"Outcome: {outcome.status}")
    for line in outcome.get(TinySchema.results):
        print(f"  - {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resume", nargs=2, metavar=("DB", "INTERRUPT_ID"))
    parser.add_argument("--db", type=Path, help="SQLite file (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.resume:
        asyncio.run(second_half(Path(args.resume[0]), args.resume[1]))
        return
    if args.db is not None:
        args.db.unlink(missing_ok=True)
        asyncio.run(first_half(args.db))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(first_half(Path(tmp) / "tiny_graph.db"))


if __name__ == "__main__":
    main()
