"""Without a checkpoint store a runtime still keeps its threads in memory: a second
run on a thread continues it (the decision documented in
docs/concepts/checkpoints.md#threads-live-in-the-runtime-with-or-without-a-store),
a new thread id or a new runtime starts fresh."""

from __future__ import annotations

from hive_core import (
    GraphBuilder,
    InMemoryCheckpointStore,
    NodeInput,
    NodeOutput,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)


class Tally(Schema):
    seen = channel(list[str], reducer=reducers.append, update="multi")


def note(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(Tally.seen, [f"step {ctx.step}"])])


GRAPH = GraphBuilder(Tally, start=["note"]).add_node("note", note).compile()


def test_a_thread_continues_in_memory_and_a_new_one_starts_fresh() -> None:
    rt = Runtime(GRAPH)
    assert rt.run_sync("a", {Tally.seen: ["hi"]}).output["seen"] == ["hi", "step 0"]
    second = rt.run_sync("a", {Tally.seen: ["again"]})
    assert second.output["seen"] == ["hi", "step 0", "again", "step 1"]
    assert rt.run_sync("b").output["seen"] == ["step 0"]
    assert Runtime(GRAPH).run_sync("a").output["seen"] == ["step 0"]


def test_adding_a_store_does_not_change_what_a_thread_remembers() -> None:
    plain, stored = (
        Runtime(GRAPH),
        Runtime(GRAPH, checkpoint_store=InMemoryCheckpointStore()),
    )
    for rt in (plain, stored):
        rt.run_sync("a")
    assert plain.run_sync("a").output == stored.run_sync("a").output
