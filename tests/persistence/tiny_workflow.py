"""A TinyGraph-shaped workflow shared by the persistence tests."""

from __future__ import annotations

from collections.abc import Callable

from hive_core import (
    END,
    CompiledGraph,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Schema,
    Spawn,
    Utf8Codec,
    Write,
    channel,
    reducers,
)


class Tiny(Schema):
    results = channel(list[str], reducer=reducers.append, update="multi")
    item = channel(str, scope="task_local", codec=Utf8Codec())
    scratch = channel(int, persistence="untracked", codec=None)
    interrupt_payload = str
    resume_payload = str


def start(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(
        writes=[Write(Tiny.scratch, 7)],
        spawn=[
            Spawn("WorkerA", {Tiny.item: "apple"}),
            Spawn("WorkerB", {Tiny.item: "banana"}),
        ],
        next=END,
    )


def worker(ctx: NodeInput) -> NodeOutput:
    text = f"{ctx.node_id} processed {ctx.store.get(Tiny.item)}"
    return NodeOutput(writes=[Write(Tiny.results, [text])], next=END)


def gate(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(interrupt="review")


SEEN: list[tuple[str, object]] = []


def finalize(ctx: NodeInput) -> NodeOutput:
    SEEN.append((ctx.node_id, ctx.resume.payload if ctx.resume else None))
    payload = ctx.resume.payload if ctx.resume else "none"
    return NodeOutput(writes=[Write(Tiny.results, [f"finalized: {payload}"])])


def build_tiny(**overrides: Callable[[NodeInput], NodeOutput]) -> CompiledGraph:
    fns = {
        "Start": start,
        "WorkerA": worker,
        "WorkerB": worker,
        "Gate": gate,
        "Finalize": finalize,
    }
    fns.update(overrides)
    g = GraphBuilder(Tiny, start=["Start"])
    for name, fn in fns.items():
        g.add_node(name, fn)
    g.add_join_edge(["WorkerA", "WorkerB"], "Gate")
    g.add_edge("Gate", "Finalize")
    return g.compile()
