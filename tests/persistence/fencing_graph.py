"""The counter graph the fencing tests drive from several runtimes and processes."""

from __future__ import annotations

from collections.abc import Callable

from hive_core import (
    CompiledGraph,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Schema,
    Write,
    channel,
    reducers,
)

THREAD = "shared-thread"


class Counter(Schema):
    log = channel(list[str], reducer=reducers.append)


def counter_graph(
    name: str, *, before_write: Callable[[], None] = lambda: None
) -> CompiledGraph:
    """One node, forever: each step appends ``"<name> <step>"`` to ``log``."""

    def tick(ctx: NodeInput) -> NodeOutput:
        before_write()
        return NodeOutput(writes=[Write(Counter.log, [f"{name} {ctx.step}"])])

    return (
        GraphBuilder(Counter, start=["tick"])
        .add_node("tick", tick)
        .add_router("tick", lambda _: ["tick"])
        .compile()
    )
