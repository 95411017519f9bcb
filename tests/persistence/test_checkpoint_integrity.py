"""A loaded checkpoint names only what the graph has; a failed run leaves memory
and disk alike; a resume payload with an undeclared field is refused."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import msgspec
import pytest

from hive_core import (
    CheckpointCorruptError,
    CheckpointPolicy,
    CompiledGraph,
    GraphBuilder,
    NodeError,
    NodeInput,
    NodeOutput,
    ResumePayloadError,
    RunOptions,
    Runtime,
    Schema,
    UnknownNodeError,
    Write,
    channel,
    reducers,
)
from hive_core.persistence import (
    Checkpoint,
    FrontierEntry,
    InMemoryCheckpointStore,
    SQLiteCheckpointStore,
)

EVERY = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))


class Log(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")


def _saved_frontier_checkpoint(
    tiny: CompiledGraph,
) -> tuple[InMemoryCheckpointStore, Checkpoint]:
    store = InMemoryCheckpointStore()
    Runtime(tiny, checkpoint_store=store).run_sync(
        "t", None, RunOptions(max_steps=1, checkpoint_policy=CheckpointPolicy.every(1))
    )
    cp = asyncio.run(store.load_latest("t"))
    assert cp is not None and cp.frontier
    return store, cp


class TestNamesValidatedOnLoad:
    def test_a_frontier_node_the_graph_lacks_fails_at_load(
        self, tiny: CompiledGraph
    ) -> None:
        _, cp = _saved_frontier_checkpoint(tiny)
        first = cp.frontier[0]
        crafted = msgspec.structs.replace(
            cp,
            frontier=(msgspec.structs.replace(first, node="Ghost"), *cp.frontier[1:]),
        )
        store = InMemoryCheckpointStore()
        asyncio.run(store.save(crafted))
        rt = Runtime(tiny, checkpoint_store=store)
        with pytest.raises(CheckpointCorruptError) as info:
            rt.get_state_sync("t")
        assert info.value.field == "frontier.node"
        assert "Ghost" in str(info.value)
        with pytest.raises(CheckpointCorruptError):  # not UnknownNodeError at run time
            rt.run_sync("t")

    def test_a_join_entry_for_a_node_that_is_no_join_target(
        self, tiny: CompiledGraph
    ) -> None:
        _, cp = _saved_frontier_checkpoint(tiny)
        entry: FrontierEntry = msgspec.structs.replace(cp.frontier[0], is_join=True)
        store = InMemoryCheckpointStore()
        asyncio.run(store.save(msgspec.structs.replace(cp, frontier=(entry,))))
        with pytest.raises(CheckpointCorruptError) as info:
            Runtime(tiny, checkpoint_store=store).get_state_sync("t")
        assert info.value.field == "frontier.is_join"

    def test_an_interrupt_from_a_node_the_graph_lacks(
        self, tiny: CompiledGraph
    ) -> None:
        store = InMemoryCheckpointStore()
        out = Runtime(tiny, checkpoint_store=store).run_sync("t")
        assert out.interrupt is not None
        cp = asyncio.run(store.load_latest("t"))
        assert cp is not None and cp.interruption is not None
        crafted = msgspec.structs.replace(
            cp, interruption=msgspec.structs.replace(cp.interruption, node="Ghost")
        )
        other = InMemoryCheckpointStore()
        asyncio.run(other.save(crafted))
        with pytest.raises(CheckpointCorruptError) as info:
            Runtime(tiny, checkpoint_store=other).resume_sync(
                "t", out.interrupt.id, "ok"
            )
        assert info.value.field == "interruption.node"


class TestFailureLeavesMemoryAndDiskAlike:
    def test_state_after_a_failed_step_equals_a_fresh_runtime_on_the_file(
        self, tmp_path: Path
    ) -> None:
        def a(ctx: NodeInput) -> NodeOutput:
            if "boom" in ctx.store.get(Log.log):
                raise ValueError("boom")
            return NodeOutput(writes=[Write(Log.log, ["a"])])

        graph = GraphBuilder(Log, start=["A"]).add_node("A", a).compile()
        path = tmp_path / "t.db"
        store = SQLiteCheckpointStore(str(path))
        rt = Runtime(graph, checkpoint_store=store)
        rt.run_sync("t", {"log": ["in"]}, EVERY)
        with pytest.raises(NodeError):
            rt.run_sync("t", {"log": ["boom"]}, EVERY)
        warm = rt.get_state_sync("t")
        store.close()
        other = SQLiteCheckpointStore(str(path))
        try:
            cold = Runtime(graph, checkpoint_store=other).get_state_sync("t")
        finally:
            other.close()
        assert warm is not None and cold is not None
        assert warm.next_nodes == cold.next_nodes == ()
        assert warm.store.to_dict() == cold.store.to_dict() == {"log": ["in", "a"]}
        assert (warm.step_index, warm.checkpoint_id) == (
            cold.step_index,
            cold.checkpoint_id,
        )

    def test_a_bad_route_after_input_commits_nothing(self) -> None:
        graph = (
            GraphBuilder(Log, start=["A"])
            .add_node("A", lambda ctx: NodeOutput(next=["Nope"]))
            .compile()
        )
        rt = Runtime(graph)
        with pytest.raises(UnknownNodeError):
            rt.run_sync("t", {"log": ["in"]})
        assert rt.get_state_sync("t") is None


@dataclasses.dataclass
class Reviewer:
    name: str


@dataclasses.dataclass
class Decision:
    approved: bool
    reviewer: Reviewer | None = None


class Approval(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    interrupt_payload = str
    resume_payload = Decision


def _ask(ctx: NodeInput) -> NodeOutput:
    if ctx.resume is None:
        return NodeOutput(interrupt="approve?", next=[ctx.node_id])
    decision = ctx.resume.payload
    assert isinstance(decision, Decision)
    return NodeOutput(writes=[Write(Approval.log, [str(decision.approved)])])


class TestResumePayloadFields:
    @pytest.fixture
    def pending(self) -> tuple[Runtime, str]:
        rt = Runtime(
            GraphBuilder(Approval, start=["Ask"]).add_node("Ask", _ask).compile(),
            checkpoint_store=InMemoryCheckpointStore(),
        )
        out = rt.run_sync("t")
        assert out.interrupt is not None
        return rt, out.interrupt.id

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"aproved": True, "approved": True}, "$.aproved"),
            (
                {"approved": True, "reviewer": {"name": "x", "nmae": "y"}},
                "$.reviewer.nmae",
            ),
        ],
        ids=["top_level", "nested"],
    )
    def test_an_undeclared_field_is_refused_and_named(
        self, pending: tuple[Runtime, str], payload: dict[str, object], field: str
    ) -> None:
        rt, iid = pending
        with pytest.raises(ResumePayloadError) as info:
            rt.resume_sync("t", iid, payload)
        assert f"unknown field `{field}`" in str(info.value)
        assert info.value.expected == "Decision"
        state = rt.get_state_sync("t")
        assert state is not None and state.interrupt is not None  # still pending

    def test_declared_fields_resume(self, pending: tuple[Runtime, str]) -> None:
        rt, iid = pending
        out = rt.resume_sync("t", iid, {"approved": True, "reviewer": {"name": "r"}})
        assert out.output["log"] == ["True"]
