"""``hive_core.persistence.migrate_checkpoint``: moving a thread to a changed graph.

Graphs are built with ``GraphBuilder`` only: the core function needs no DSL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from hive_core import (
    CheckpointVersionMismatchError,
    CompiledGraph,
    GraphBuilder,
    InMemoryCheckpointStore,
    NodeInput,
    NodeOutput,
    RetryPolicy,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.persistence import (
    MigrationError,
    migrate_checkpoint,
    migrate_checkpoint_sync,
)


class S(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")


def logs(name: str) -> Callable[[NodeInput], NodeOutput]:
    def fn(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(S.log, [name])])

    return fn


def ask(ctx: NodeInput) -> NodeOutput:
    if ctx.resume is None:
        return NodeOutput(interrupt="ok?", next=("ask",))
    return NodeOutput(writes=[Write(S.log, ["ask"])])


def graph(*, probe: bool = False, retry_after: bool = False) -> CompiledGraph:
    """ask -> after -> final (with ``probe`` between after and final)."""
    g = GraphBuilder(S, start=["ask"]).add_node("ask", ask)
    g.add_node(
        "after",
        logs("after"),
        retry_policy=RetryPolicy(max_attempts=2) if retry_after else None,
    )
    g.add_node("final", logs("final")).add_edge("ask", "after")
    if probe:
        g.add_node("probe", logs("probe"))
        g.add_edge("after", "probe").add_edge("probe", "final")
    else:
        g.add_edge("after", "final")
    return g.compile()


def interrupted(old: CompiledGraph) -> tuple[InMemoryCheckpointStore, str]:
    store = InMemoryCheckpointStore()
    out = Runtime(old, checkpoint_store=store).run_sync("t")
    assert out.interrupt is not None
    return store, out.interrupt.id


def test_a_safe_change_moves_the_thread_and_it_resumes() -> None:
    old, new = graph(), graph(probe=True)
    store, interrupt_id = interrupted(old)
    with pytest.raises(CheckpointVersionMismatchError) as info:
        Runtime(new, checkpoint_store=store).resume_sync("t", interrupt_id, "yes")
    assert "migrate_checkpoint(old_graph, new_graph, store, thread_id)" in str(
        info.value
    )
    moved = migrate_checkpoint_sync(old, new, store, "t")
    assert moved.graph_version == new.graph_version
    assert asyncio.run(store.load_latest("t")) == moved
    assert migrate_checkpoint_sync(old, new, store, "t") == moved  # a no-op now
    out = Runtime(new, checkpoint_store=store).resume_sync("t", interrupt_id, "yes")
    assert out.output["log"] == ["ask", "after", "probe", "final"]


def test_refuses_when_the_frontier_node_changed() -> None:
    old = graph()
    store, _ = interrupted(old)
    new = GraphBuilder(S, start=["ask"]).add_node(
        "ask", ask, retry_policy=RetryPolicy(max_attempts=2)
    )
    new.add_node("after", logs("after")).add_node("final", logs("final"))
    new.add_edge("ask", "after").add_edge("after", "final")
    with pytest.raises(MigrationError) as info:
        asyncio.run(migrate_checkpoint(old, new.compile(), store, "t"))
    err = info.value
    assert (err.code, err.reason, err.subject, err.thread_id) == (
        "migration-refused",
        "frontier-touches-change",
        "ask",
        "t",
    )
    assert str(err).splitlines()[0] == (
        "Cannot migrate thread `t`: its next step runs `ask`, which the patch changed"
    )
    latest = asyncio.run(store.load_latest("t"))
    assert latest is not None and latest.graph_version == old.graph_version


def test_a_change_elsewhere_moves_and_named_nodes_count_as_changed() -> None:
    old, new = graph(), graph(retry_after=True)
    store, _ = interrupted(old)
    with pytest.raises(MigrationError) as info:
        migrate_checkpoint_sync(old, new, store, "t", changed_nodes=["ask"])
    assert info.value.reason == "frontier-touches-change"
    assert migrate_checkpoint_sync(old, new, store, "t").graph_version == (
        new.graph_version
    )


def test_refuses_a_thread_without_checkpoint_or_from_another_graph() -> None:
    old, new = graph(), graph(probe=True)
    store, _ = interrupted(old)
    with pytest.raises(MigrationError) as info:
        migrate_checkpoint_sync(old, new, store, "nobody")
    assert (info.value.reason, info.value.subject) == ("no-checkpoint", "nobody")
    with pytest.raises(MigrationError) as info:
        migrate_checkpoint_sync(graph(retry_after=True), new, store, "t")
    assert info.value.reason == "not-from-old-graph"


def test_refuses_a_schema_change() -> None:
    class Other(Schema):
        log = channel(list[str], reducer=reducers.append, update="multi")
        extra = channel(int)

    old = graph()
    store, _ = interrupted(old)
    new = GraphBuilder(Other, start=["a"]).add_node("a", lambda ctx: None).compile()
    with pytest.raises(MigrationError) as info:
        migrate_checkpoint_sync(old, new, store, "t")
    assert info.value.reason == "schema-changed"


def test_the_sync_twin_refuses_inside_an_event_loop() -> None:
    old, new = graph(), graph(probe=True)
    store, _ = interrupted(old)

    async def inside() -> None:
        migrate_checkpoint_sync(old, new, store, "t")

    with pytest.raises(RuntimeError, match="await migrate_checkpoint"):
        asyncio.run(inside())
