"""``WorkflowPatch``: each operation, what is kept, the diff and its Mermaid form,
typed errors reporting every problem, graph versions and ``migrate``."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable

import pytest

from hive_core import (
    END,
    CheckpointVersionMismatchError,
    CompilationError,
    CompiledGraph,
    InMemoryCheckpointStore,
    NodeInput,
    Problem,
    RetryPolicy,
    Runtime,
    Schema,
    channel,
    reducers,
)
from hive_dsl import (
    KEEP,
    Branch,
    Chain,
    Effects,
    GoTo,
    Interrupt,
    Join,
    MigrationError,
    NodeDef,
    PatchConflictError,
    PatchDiff,
    PatchDuplicateNodeError,
    PatchError,
    PatchMissingEdgeError,
    PatchUnknownNodeError,
    Workflow,
    WorkflowPatch,
    Write,
)

MakeRuntime = Callable[..., Runtime]


class S(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    flag = channel(bool)
    answer = channel(str)


def logger(name: str) -> Callable[[NodeInput], Effects]:
    def fn(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, [name]))

    fn.__name__ = name
    return fn


def add(
    wf: Workflow,
    name: str,
    *,
    start: bool = False,
    retry: RetryPolicy | None = None,
    blocking: bool = False,
) -> NodeDef[..., Effects]:
    return wf.node(
        logger(name), node_id=name, start=start, retry=retry, blocking=blocking
    )


POLICY = RetryPolicy(max_attempts=2)


def base_graph() -> CompiledGraph:
    """a -> b -> c, a -> d; router on c; join [b, d] -> j; retry on b, blocking d."""
    wf = Workflow(S, output=[S.log])
    a = add(wf, "a", start=True)
    b = add(wf, "b", retry=POLICY)
    c = add(wf, "c")
    d = add(wf, "d", blocking=True)
    j = add(wf, "j")
    e = add(wf, "e")
    Chain(wf, a, b, c)
    wf.edge(a, d)
    Join(wf, [b, d], j)
    with Branch(wf, after=c) as br:
        br.case("flag", when=lambda v: v.get(S.flag), then=e)
        br.default(then=END)
    return wf.compile()


def edge_list(graph: CompiledGraph) -> list[tuple[str, str]]:
    return [(e.source, e.target) for e in graph.ir.edges]


class TestInsertProbe:
    def test_probe_takes_the_edge_place(self) -> None:
        graph = base_graph()
        new, diff = (
            WorkflowPatch()
            .insert_probe(logger("p"), between="a", and_="b")
            .apply(graph)
        )
        assert edge_list(graph) == [("a", "b"), ("b", "c"), ("a", "d")]
        assert edge_list(new) == [("a", "p"), ("p", "b"), ("b", "c"), ("a", "d")]
        assert diff == PatchDiff(
            added_nodes=("p",),
            added_edges=(("a", "p"), ("p", "b")),
            removed_edges=(("a", "b"),),
        )

    def test_probe_runs_between_the_nodes(self, make_runtime: MakeRuntime) -> None:
        new, _ = (
            WorkflowPatch()
            .insert_probe(logger("p"), between="b", and_="c")
            .apply(base_graph())
        )
        assert make_runtime(new).run_sync("t").output["log"] == [
            "a",
            "b",
            "d",
            "p",
            "j",
            "c",
        ]

    def test_probe_options_and_node_refs(self) -> None:
        wf = Workflow(S)
        a = add(wf, "a", start=True)
        b = add(wf, "b")
        wf.edge(a, b)
        new, _ = (
            WorkflowPatch()
            .insert_probe(
                logger("watch"), between=a, and_=b, node_id="probe", retry=POLICY
            )
            .apply(wf)
        )
        assert new.nodes["probe"].retry == POLICY
        assert edge_list(new) == [("a", "probe"), ("probe", "b")]


class TestReplaceNode:
    def test_function_is_swapped_and_everything_else_kept(
        self, make_runtime: MakeRuntime
    ) -> None:
        graph = base_graph()
        new, diff = WorkflowPatch().replace_node("b", logger("B!")).apply(graph)
        assert diff == PatchDiff(updated_nodes=("b",))
        assert new.nodes["b"].retry == POLICY
        assert new.nodes["d"].blocking
        assert new.ir.routers == ("c",)
        assert new.ir.joins == graph.ir.joins
        assert new.ir.output == ("log",)
        assert new.start == ("a",)
        assert new.graph_version == graph.graph_version  # only a function changed
        out = make_runtime(new).run_sync("t", {S.flag: True})
        assert out.output["log"] == ["a", "B!", "d", "c", "j", "e"]

    def test_retry_and_blocking_can_change(self) -> None:
        graph = base_graph()
        new, diff = (
            WorkflowPatch()
            .replace_node("b", logger("b"), retry=None)
            .replace_node("d", logger("d"), blocking=False, retry=POLICY)
            .apply(graph)
        )
        assert new.nodes["b"].retry is None
        assert not new.nodes["d"].blocking
        assert new.nodes["d"].retry == POLICY
        assert diff.updated_nodes == ("b", "d")
        assert new.graph_version != graph.graph_version

    def test_async_replacement_drops_kept_blocking(self) -> None:
        async def d(ctx: NodeInput) -> None:
            return None

        new, _ = WorkflowPatch().replace_node("d", d, blocking=KEEP).apply(base_graph())
        assert not new.nodes["d"].blocking
        assert new.nodes["d"].is_async

    def test_replacement_may_be_a_node_def(self) -> None:
        other = Workflow(S)
        nd = add(other, "x")
        new, _ = WorkflowPatch().replace_node("b", nd).apply(base_graph())
        assert new.nodes["b"].fn is not nd.core_fn  # re-lowered under the id `b`


class TestOtherOperations:
    def test_add_node_and_edges(self, make_runtime: MakeRuntime) -> None:
        new, diff = (
            WorkflowPatch()
            .add_node(logger("extra"))
            .add_edge("e", "extra")
            .remove_edge("a", "d")
            .apply(base_graph())
        )
        assert edge_list(new) == [("a", "b"), ("b", "c"), ("e", "extra")]
        assert diff == PatchDiff(
            added_nodes=("extra",),
            added_edges=(("e", "extra"),),
            removed_edges=(("a", "d"),),
        )

    def test_remove_node_drops_its_edges_and_router(self) -> None:
        graph = base_graph()
        new, diff = WorkflowPatch().remove_node("c").apply(graph)
        assert "c" not in new.nodes
        assert new.ir.routers == ()
        assert edge_list(new) == [("a", "b"), ("a", "d")]
        assert diff == PatchDiff(removed_nodes=("c",), removed_edges=(("b", "c"),))

    def test_operations_see_earlier_ones(self) -> None:
        new, _ = (
            WorkflowPatch()
            .add_node(logger("x"), node_id="x")
            .insert_probe(logger("y"), between="a", and_="b")
            .add_edge("y", "x")
            .replace_node("x", logger("x2"))
            .remove_edge("y", "x")
            .remove_node("x")
            .apply(base_graph())
        )
        assert "x" not in new.nodes
        assert edge_list(new)[:2] == [("a", "y"), ("y", "b")]

    def test_a_patch_can_be_applied_to_several_graphs(self) -> None:
        patch = WorkflowPatch().replace_node("a", logger("a2"))
        first, second = patch.apply(base_graph()), patch.apply(base_graph())
        assert first.graph.graph_version == second.graph.graph_version

    def test_an_invalid_patched_graph_is_a_compilation_error(self) -> None:
        with pytest.raises(CompilationError) as info:
            WorkflowPatch().add_edge("c", "a").apply(base_graph())
        assert info.value.codes == ("static-cycle",)

    def test_empty_patch(self) -> None:
        graph = base_graph()
        new, diff = WorkflowPatch().apply(graph)
        assert diff.is_empty
        assert diff.to_mermaid() == "flowchart TD"
        assert new.graph_version == graph.graph_version
        assert new.to_mermaid() == graph.to_mermaid()


class TestDiff:
    def test_mermaid_sections_are_sorted_and_in_order(self) -> None:
        diff = PatchDiff(
            added_nodes=("z", "p"),
            removed_nodes=("old",),
            updated_nodes=("b",),
            added_edges=(("p", "b"), ("a", "p")),
            removed_edges=(("a", "b"),),
        )
        assert diff.to_mermaid() == "\n".join(
            [
                "flowchart TD",
                "%% Added nodes",
                "%% + p",
                "%% + z",
                "%% Removed nodes",
                "%% - old",
                "%% Updated nodes",
                "%% ~ b",
                "%% Added edges",
                "%% + a-->p",
                "%% + p-->b",
                "%% Removed edges",
                "%% - a-->b",
            ]
        )
        assert not diff.is_empty

    def test_probe_and_replace_render(self) -> None:
        _, diff = (
            WorkflowPatch()
            .insert_probe(logger("probe"), between="a", and_="b")
            .replace_node("c", logger("c"))
            .apply(base_graph())
        )
        assert diff.to_mermaid() == (
            "flowchart TD\n%% Added nodes\n%% + probe\n%% Updated nodes\n%% ~ c\n"
            "%% Added edges\n%% + a-->probe\n%% + probe-->b\n%% Removed edges\n"
            "%% - a-->b"
        )


class TestErrors:
    def test_unknown_node(self) -> None:
        with pytest.raises(PatchUnknownNodeError) as info:
            WorkflowPatch().replace_node("zz", logger("x")).apply(base_graph())
        err = info.value
        assert err.code == "patch-unknown-node"
        assert err.problems == (
            Problem(
                code="patch-unknown-node",
                message="replace_node('zz'): node `zz` is not in the graph",
                subject="zz",
            ),
        )
        assert str(err) == (
            "Patch failed with 1 problem:\n"
            "  [patch-unknown-node] replace_node('zz'): node `zz` is not in the graph"
        )

    def test_duplicate_node_id(self) -> None:
        with pytest.raises(PatchDuplicateNodeError) as info:
            WorkflowPatch().insert_probe(logger("b"), between="a", and_="b").apply(
                base_graph()
            )
        assert info.value.code == "patch-duplicate-node-id"
        assert info.value.problems[0].message == (
            "insert_probe('b', between='a', and_='b'): node id `b` is already in the graph"
        )

    def test_missing_static_edge(self) -> None:
        with pytest.raises(PatchMissingEdgeError) as info:
            WorkflowPatch().insert_probe(logger("p"), between="a", and_="c").apply(
                base_graph()
            )
        problem = info.value.problems[0]
        assert info.value.code == "patch-missing-static-edge"
        assert problem.details == {"from": "a", "to": "c"}
        assert problem.message == (
            "insert_probe('p', between='a', and_='c'): there is no static edge `a` -> `c`"
        )

    def test_conflicts(self) -> None:
        with pytest.raises(PatchConflictError) as info:
            WorkflowPatch().remove_node("a").remove_node("j").apply(base_graph())
        assert info.value.code == "patch-conflict"
        assert [p.message for p in info.value.problems] == [
            "remove_node('a'): it is a start node",
            "remove_node('j'): it takes part in join `b+d` -> `j`",
        ]

    def test_every_problem_is_reported(self) -> None:
        with pytest.raises(PatchError) as info:
            (
                WorkflowPatch()
                .replace_node("nope", logger("x"))
                .insert_probe(logger("c"), between="a", and_="zz")
                .remove_edge("b", "a")
                .add_edge("q", "r")
                .apply(base_graph())
            )
        err = info.value
        assert type(err) is PatchError
        assert err.codes == (
            "patch-unknown-node",
            "patch-duplicate-node-id",
            "patch-unknown-node",
            "patch-missing-static-edge",
            "patch-unknown-node",
            "patch-unknown-node",
        )
        assert str(err).splitlines()[0] == "Patch failed with 6 problems:"
        clone = pickle.loads(pickle.dumps(err))
        assert (type(clone), clone.problems) == (PatchError, err.problems)

    def test_errors_are_hive_errors(self) -> None:
        for cls in (
            PatchUnknownNodeError,
            PatchDuplicateNodeError,
            PatchMissingEdgeError,
        ):
            assert issubclass(cls, PatchError)
            assert issubclass(cls, ValueError)

    def test_bad_function_fails_when_added(self) -> None:
        def no_params() -> None:
            return None

        with pytest.raises(TypeError, match="cannot take a node input"):
            WorkflowPatch().replace_node("a", no_params)
        with pytest.raises(TypeError, match="has no __name__"):
            WorkflowPatch().add_node(_Nameless())


class _Nameless:
    def __call__(self, ctx: NodeInput) -> None:
        return None


# ------------------------------------------------------------------ migrate


def approval_graph() -> CompiledGraph:
    """start -> ask -> after -> final, start -> left; join [left, late] -> joined.

    `ask` interrupts and waits on itself; once answered it also schedules `late`.
    """
    wf = Workflow(S)
    start = add(wf, "start", start=True)

    @wf.node
    def ask(ctx: NodeInput) -> Effects:
        if ctx.resume is None:
            return Effects(Interrupt("ok?"), GoTo(ask))
        return Effects(Write(S.answer, str(ctx.resume.payload)), GoTo("after", "late"))

    after, final, left, late, joined = (
        add(wf, n) for n in ("after", "final", "left", "late", "joined")
    )
    Chain(wf, start, ask)
    Chain(wf, after, final)
    wf.edge(start, left)
    Join(wf, [left, late], joined)
    del final, joined
    return wf.compile()


class Interrupted:
    def __init__(self, graph: CompiledGraph, make_runtime: MakeRuntime) -> None:
        self.graph = graph
        self.store = InMemoryCheckpointStore()
        out = make_runtime(graph, checkpoint_store=self.store).run_sync("t")
        assert out.interrupt is not None
        self.interrupt_id = out.interrupt.id


@pytest.fixture
def interrupted(make_runtime: MakeRuntime) -> Interrupted:
    return Interrupted(approval_graph(), make_runtime)


def refused(
    patch: WorkflowPatch, old: CompiledGraph, new: CompiledGraph, state: Interrupted
) -> MigrationError:
    with pytest.raises(MigrationError) as info:
        patch.migrate_sync(old, new, state.store, "t")
    return info.value


class TestMigrate:
    def test_old_checkpoints_do_not_load_on_a_patched_graph(
        self, interrupted: Interrupted, make_runtime: MakeRuntime
    ) -> None:
        new, _ = (
            WorkflowPatch()
            .insert_probe(logger("probe"), between="after", and_="final")
            .apply(interrupted.graph)
        )
        rt = make_runtime(new, checkpoint_store=interrupted.store)
        with pytest.raises(CheckpointVersionMismatchError):
            rt.resume_sync("t", interrupted.interrupt_id, "yes")

    def test_safe_probe_moves_the_checkpoint(
        self, interrupted: Interrupted, make_runtime: MakeRuntime
    ) -> None:
        patch = WorkflowPatch().insert_probe(
            logger("probe"), between="after", and_="final"
        )
        new, _ = patch.apply(interrupted.graph)
        moved = patch.migrate_sync(interrupted.graph, new, interrupted.store, "t")
        assert moved.graph_version == new.graph_version
        latest = asyncio.run(interrupted.store.load_latest("t"))
        assert latest == moved
        assert moved.id == latest.id  # same run and step: the store overwrote it
        again = patch.migrate_sync(interrupted.graph, new, interrupted.store, "t")
        assert again == moved  # already at the new version: a no-op
        rt = make_runtime(new, checkpoint_store=interrupted.store)
        out = rt.resume_sync("t", interrupted.interrupt_id, "yes")
        assert out.output["answer"] == "yes"
        assert out.output["log"] == [
            "start",
            "left",
            "after",
            "late",
            "probe",
            "joined",
            "final",
        ]

    def test_replaced_node_outside_the_frontier_moves(
        self, interrupted: Interrupted
    ) -> None:
        patch = WorkflowPatch().replace_node("final", logger("final"), retry=POLICY)
        new, _ = patch.apply(interrupted.graph)
        assert new.graph_version != interrupted.graph.graph_version
        moved = asyncio.run(
            patch.migrate(interrupted.graph, new, interrupted.store, "t")
        )
        assert moved.graph_version == new.graph_version

    def test_refuses_a_replaced_frontier_node(self, interrupted: Interrupted) -> None:
        patch = WorkflowPatch().replace_node("ask", logger("ask"), retry=POLICY)
        new, _ = patch.apply(interrupted.graph)
        err = refused(patch, interrupted.graph, new, interrupted)
        assert (err.reason, err.subject, err.thread_id) == (
            "frontier-touches-change",
            "ask",
            "t",
        )
        assert err.code == "migration-refused"
        assert str(err).splitlines()[0] == (
            "Cannot migrate thread `t`: its next step runs `ask`, which the patch changed"
        )

    def test_refuses_rerouting_a_frontier_node(self, interrupted: Interrupted) -> None:
        patch = WorkflowPatch().add_node(logger("x")).add_edge("ask", "x")
        new, _ = patch.apply(interrupted.graph)
        err = refused(patch, interrupted.graph, new, interrupted)
        assert (err.reason, err.subject) == ("frontier-touches-change", "ask")
        assert "which the patch rerouted" in str(err)

    @pytest.mark.parametrize("node", ["left", "late", "joined"])
    def test_refuses_a_partly_filled_barrier_of_a_changed_node(
        self, node: str, interrupted: Interrupted
    ) -> None:
        patch = WorkflowPatch().replace_node(node, logger(node), retry=POLICY)
        new, _ = patch.apply(interrupted.graph)
        err = refused(patch, interrupted.graph, new, interrupted)
        assert (err.reason, err.subject) == (
            "join-barrier-touches-change",
            "join:late+left:joined",
        )

    def test_refuses_without_a_checkpoint(self, interrupted: Interrupted) -> None:
        patch = WorkflowPatch().add_node(logger("x"))
        new, _ = patch.apply(interrupted.graph)
        with pytest.raises(MigrationError) as info:
            patch.migrate_sync(interrupted.graph, new, interrupted.store, "nobody")
        assert info.value.reason == "no-checkpoint"

    def test_refuses_a_checkpoint_of_another_graph(
        self, interrupted: Interrupted
    ) -> None:
        patch = WorkflowPatch().add_node(logger("x"))
        other = base_graph()
        new, _ = patch.apply(other)
        err = refused(patch, other, new, interrupted)
        assert err.reason == "not-from-old-graph"

    def test_refuses_a_graph_that_is_not_this_patch(
        self, interrupted: Interrupted
    ) -> None:
        patch = WorkflowPatch().add_node(logger("x"))
        unrelated, _ = WorkflowPatch().add_node(logger("y")).apply(interrupted.graph)
        err = refused(patch, interrupted.graph, unrelated, interrupted)
        assert err.reason == "not-this-patch"

    def test_refuses_a_schema_change(self, interrupted: Interrupted) -> None:
        class Other(Schema):
            log = channel(list[str], reducer=reducers.append, update="multi")

        wf = Workflow(Other)
        add(wf, "start", start=True)
        patch = WorkflowPatch()
        err = refused(patch, interrupted.graph, wf.compile(), interrupted)
        assert err.reason == "schema-changed"
        clone = pickle.loads(pickle.dumps(err))
        assert (clone.reason, str(clone)) == (err.reason, str(err))
