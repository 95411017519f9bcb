"""``Subgraph``: a child run inside a node (``docs/dsl.md``, "Subgraphs"): thread id, mappings,
streamed events, derived ids, and the errors for a child that does not finish."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from hive_core import (
    Environment,
    HiveError,
    NodeError,
    NodeInput,
    RunError,
    RunOptions,
    Runtime,
    Schema,
    channel,
    reducers,
)
from hive_core.testing import FakeClock
from hive_dsl import (
    Chain,
    Effects,
    GoTo,
    Interrupt,
    Subgraph,
    SubgraphIncompleteError,
    SubgraphInterruptedError,
    Workflow,
    Write,
)

MakeRuntime = Callable[..., Runtime]
RunTraced = Callable[..., tuple[Any, list[dict[str, Any]]]]


class Child(Schema):
    text = channel(str)
    words = channel(int)
    seen = channel(list[str], reducer=reducers.append, update="multi")


class Parent(Schema):
    article = channel(str)
    words = channel(int)
    child_seen = channel(list[str])
    done = channel(bool)


def child_workflow() -> Workflow:
    child = Workflow(Child, name="counter")

    @child.node(start=True)
    def count(ctx: NodeInput) -> Effects:
        return Effects(
            Write(Child.words, len(ctx.store.get(Child.text).split())),
            Write(Child.seen, [ctx.thread_id, ctx.run_id, str(ctx.step)]),
        )

    return child


def parent_workflow(sub: Subgraph) -> Workflow:
    wf = Workflow(Parent)

    @wf.node(start=True)
    def fetch(ctx: NodeInput) -> Effects:
        return Effects(Write(Parent.article, "one two three"))

    counted = wf.node(sub, node_id="count_words")

    @wf.node
    def finish(ctx: NodeInput) -> Effects:
        return Effects(Write(Parent.done, True))

    Chain(wf, fetch, counted, finish)
    return wf


def mapped() -> Subgraph:
    return Subgraph(
        child_workflow(),
        input=lambda view: {Child.text: view.get(Parent.article)},
        output=lambda store: [
            Write(Parent.words, store.get(Child.words)),
            Write(Parent.child_seen, store.get(Child.seen)),
        ],
    )


class TestRunningAChild:
    def test_input_and_output_mappings(self, make_runtime: MakeRuntime) -> None:
        out = make_runtime(parent_workflow(mapped()).compile()).run_sync("main")
        assert out.output["words"] == 3
        assert out.output["done"] is True

    def test_child_thread_id_names_parent_thread_and_step(
        self, make_runtime: MakeRuntime
    ) -> None:
        out = make_runtime(parent_workflow(mapped()).compile()).run_sync("main")
        thread, _run, step = out.output["child_seen"]
        assert thread == "subgraph:main:1"
        assert step == "0"

    def test_child_ids_are_derived_from_the_parent_task(
        self, make_runtime: MakeRuntime
    ) -> None:
        graph = parent_workflow(mapped()).compile()
        first = make_runtime(graph).run_sync("main")
        again = make_runtime(graph).run_sync("main")
        other = make_runtime(graph).run_sync("other")
        run_id = first.output["child_seen"][1]
        assert again.output["child_seen"][1] == run_id
        assert other.output["child_seen"][1] != run_id
        assert run_id != first.run_id

    def test_child_events_stream_inside_the_subgraph_task(
        self, make_runtime: MakeRuntime, run_traced: RunTraced
    ) -> None:
        _, trace = run_traced(make_runtime(parent_workflow(mapped()).compile()), "main")
        nodes = [ev["node"] for ev in trace if ev["kind"] == "task_started"]
        assert nodes == ["fetch", "count_words", "finish"]
        assert [ev["kind"] for ev in trace].count("run_started") == 1
        child = [ev for ev in trace if ev["kind"] == "subgraph_event"]
        assert {tuple(ev["namespace"]) for ev in child} == {("count_words",)}
        assert {(ev["step"], ev["ordinal"]) for ev in child} == {(1, 0)}
        assert [ev["event"]["kind"] for ev in child][:2] == [
            "run_started",
            "step_started",
        ]

    def test_compiled_child_and_no_mappings(self, make_runtime: MakeRuntime) -> None:
        sub = Subgraph(child_workflow().compile())
        out = make_runtime(parent_workflow(sub).compile()).run_sync("main")
        assert out.output["words"] == 0
        assert out.output["done"] is True

    def test_output_mapping_may_route(self, make_runtime: MakeRuntime) -> None:
        sub = Subgraph(
            child_workflow(),
            output=lambda store: Effects(Write(Parent.words, 7), GoTo()),
        )
        out = make_runtime(parent_workflow(sub).compile()).run_sync("main")
        assert out.output["words"] == 7
        assert out.output["done"] is False

    def test_child_shares_the_parent_environment(self) -> None:
        child = Workflow(Child)

        @child.node(start=True)
        def read_env(ctx: NodeInput) -> Effects:
            return Effects(Write(Child.text, str(ctx.environment.extras["tag"])))

        wf = Workflow(Child)
        wf.node(
            Subgraph(
                child, output=lambda store: [Write(Child.text, store.get(Child.text))]
            ),
            start=True,
        )
        env = Environment(clock=FakeClock(), extras={"tag": "shared"})
        out = Runtime(wf.compile(), environment=env).run_sync("t")
        assert out.output["text"] == "shared"

    def test_default_node_id_is_the_child_name(self) -> None:
        wf = Workflow(Parent)
        assert wf.node(Subgraph(child_workflow()), start=True).id == "counter"
        assert repr(Subgraph(child_workflow().compile())) == "Subgraph('subgraph')"

    def test_child_definition_errors_surface_at_parent_compile(self) -> None:
        child = child_workflow()
        child.edge("count", "missing")
        wf = Workflow(Parent)
        wf.node(Subgraph(child), start=True)
        with pytest.raises(HiveError, match="Node `missing` is referenced"):
            wf.compile()


class TestChildThatDoesNotFinish:
    def test_interrupted_child_fails_the_node(self, make_runtime: MakeRuntime) -> None:
        child = Workflow(Child)

        @child.node(start=True)
        def ask(ctx: NodeInput) -> Effects:
            return Effects(Interrupt({"question": "ok?"}))

        wf = Workflow(Parent)
        wf.node(Subgraph(child), start=True, node_id="sub")
        with pytest.raises(NodeError) as info:
            make_runtime(wf.compile()).run_sync("main")
        cause = info.value.__cause__
        assert isinstance(cause, SubgraphInterruptedError)
        assert isinstance(cause, RunError)
        assert cause.code == "subgraph-interrupted"
        assert (cause.node_id, cause.child_thread_id, cause.status) == (
            "sub",
            "subgraph:main:0",
            "interrupted",
        )
        assert cause.payload == {"question": "ok?"}
        assert len(cause.interrupt_id) == 64
        assert (
            str(cause)
            .splitlines()[0]
            .startswith(
                "Subgraph node `sub` was interrupted by its child (thread `subgraph:main:0`"
            )
        )
        clone = pickle.loads(pickle.dumps(cause))
        assert (clone.payload, str(clone)) == (cause.payload, str(cause))

    def test_child_out_of_steps_fails_the_node(self, make_runtime: MakeRuntime) -> None:
        child = Workflow(Child)

        @child.node(start=True)
        def loop(ctx: NodeInput) -> Effects:
            return Effects(GoTo(loop))

        wf = Workflow(Parent)
        wf.node(Subgraph(child, options=RunOptions(max_steps=3)), start=True)
        with pytest.raises(NodeError) as info:
            make_runtime(wf.compile()).run_sync("main")
        cause = info.value.__cause__
        assert type(cause) is SubgraphIncompleteError
        assert cause.code == "subgraph-incomplete"
        assert cause.status == "out_of_steps"
        assert str(cause) == (
            "Subgraph node `Child` ended with status `out_of_steps` in child thread "
            "`subgraph:main:0`; a subgraph must finish"
        )
