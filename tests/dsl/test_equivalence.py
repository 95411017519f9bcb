"""The DSL is only a front end: a workflow written with it and the same graph built by
hand with ``GraphBuilder`` compile to the same IR (so the same ``graph_version``) and
run to the same event trace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from hive_core import (
    END,
    CompiledGraph,
    GraphBuilder,
    Next,
    NodeInput,
    NodeOutput,
    Runtime,
    Schema,
    Spawn,
    StoreView,
    Write,
    channel,
    reducers,
)
from hive_dsl import (
    Branch,
    Chain,
    Effects,
    End,
    FanOut,
    Join,
    SpawnEach,
    Workflow,
)

MakeRuntime = Callable[..., Runtime]
RunTraced = Callable[..., tuple[Any, list[dict[str, Any]]]]


class S(Schema):
    text = channel(str)
    category = channel(str)
    items = channel(list[str])
    item = channel(str, scope="task_local")
    log = channel(list[str], reducer=reducers.append, update="multi")
    count = channel(int, reducer=reducers.sum, update="multi")


# ------------------------------------------------------------------ linear


def linear_dsl() -> CompiledGraph:
    wf = Workflow(S)

    @wf.node(start=True)
    def a(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, ["a"]), Write(S.count, 1))

    @wf.node
    def b(ctx: NodeInput) -> Effects:
        with Effects() as fx:
            fx.write(S.log, [f"b saw {ctx.store.get(S.count)}"])
            fx.write(S.count, 10)
        return fx

    @wf.node
    async def c(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, ["c"]), End())

    Chain(wf, a, b, c)
    return wf.compile()


def linear_hand() -> CompiledGraph:
    def a(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(S.log, ["a"]), Write(S.count, 1)])

    def b(ctx: NodeInput) -> NodeOutput:
        seen = ctx.store.get(S.count)
        return NodeOutput(writes=[Write(S.log, [f"b saw {seen}"]), Write(S.count, 10)])

    async def c(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(S.log, ["c"])], next=END)

    g = GraphBuilder(S, start=["a"])
    g.add_node("a", a).add_node("b", b).add_node("c", c)
    g.add_edge("a", "b").add_edge("b", "c")
    return g.compile()


# ------------------------------------------------------------------ branch


def classify_text(ctx: NodeInput) -> str:
    return "urgent" if "!" in ctx.store.get(S.text) else "normal"


def branch_dsl() -> CompiledGraph:
    wf = Workflow(S)

    @wf.node(start=True)
    def classify(ctx: NodeInput) -> Effects:
        return Effects(Write(S.category, classify_text(ctx)))

    @wf.node
    def escalate(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, ["escalated"]))

    @wf.node
    def respond(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, ["responded"]))

    with Branch(wf, after=classify) as b:
        b.case("urgent", when=lambda v: v.get(S.category) == "urgent", then=escalate)
        b.default(then=respond)
    return wf.compile()


def branch_hand() -> CompiledGraph:
    def classify(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(S.category, classify_text(ctx))])

    def escalate(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(S.log, ["escalated"])])

    def respond(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(S.log, ["responded"])])

    def route(view: StoreView) -> Next | Sequence[str]:
        return ["escalate"] if view.get(S.category) == "urgent" else ["respond"]

    g = GraphBuilder(S, start=["classify"])
    g.add_node("classify", classify)
    g.add_node("escalate", escalate).add_node("respond", respond)
    g.add_router("classify", route)
    return g.compile()


# ---------------------------------------------------- fan-out, join, spawn


def fanout_dsl() -> CompiledGraph:
    wf = Workflow(S)

    @wf.node(start=True)
    def plan(ctx: NodeInput) -> Effects:
        items = ctx.store.get(S.items)
        return Effects(SpawnEach(items, worker, local=lambda i: {S.item: i}))

    @wf.node
    def worker(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, [ctx.store.get(S.item)]), Write(S.count, 1))

    @wf.node
    def audit(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, ["audit"]))

    @wf.node
    def index(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, ["index"]))

    @wf.node
    def merge(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, ["merge"]))

    @wf.node
    def report(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, [f"report {ctx.store.get(S.count)}"]))

    FanOut(wf, plan, [audit, index], join_to=merge)
    Join(wf, [merge, worker], report)
    return wf.compile()


def fanout_hand() -> CompiledGraph:
    def plan(ctx: NodeInput) -> NodeOutput:
        items = ctx.store.get(S.items)
        return NodeOutput(spawn=[Spawn("worker", {S.item: i}) for i in items])

    def worker(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(
            writes=[Write(S.log, [ctx.store.get(S.item)]), Write(S.count, 1)]
        )

    def logger(name: str) -> Callable[[NodeInput], NodeOutput]:
        return lambda ctx: NodeOutput(writes=[Write(S.log, [name])])

    def report(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(S.log, [f"report {ctx.store.get(S.count)}"])])

    g = GraphBuilder(S, start=["plan"])
    g.add_node("plan", plan).add_node("worker", worker)
    for name in ("audit", "index", "merge"):
        g.add_node(name, logger(name))
    g.add_node("report", report)
    g.add_edge("plan", "audit").add_edge("plan", "index")
    g.add_join_edge(["audit", "index"], "merge")
    g.add_join_edge(["merge", "worker"], "report")
    return g.compile()


Build = Callable[[], CompiledGraph]
CASES: dict[str, tuple[Build, Build, list[object]]] = {
    "linear": (linear_dsl, linear_hand, [None]),
    "branch": (branch_dsl, branch_hand, [{S.text: "help!"}, {S.text: "hello"}]),
    "fanout": (fanout_dsl, fanout_hand, [{S.items: ["x", "y", "z"]}]),
}


@pytest.mark.parametrize("case", list(CASES))
class TestEquivalence:
    def test_same_ir_and_graph_version(self, case: str) -> None:
        dsl, hand, _ = CASES[case]
        a, b = dsl(), hand()
        assert a.graph_version == b.graph_version
        assert a.ir == b.ir
        assert a.to_mermaid() == b.to_mermaid()

    def test_same_trace(
        self, case: str, make_runtime: MakeRuntime, run_traced: RunTraced
    ) -> None:
        dsl, hand, inputs = CASES[case]
        for i, value in enumerate(inputs):
            out_a, trace_a = run_traced(make_runtime(dsl()), f"t{i}", value)
            out_b, trace_b = run_traced(make_runtime(hand()), f"t{i}", value)
            assert trace_a == trace_b
            assert dict(out_a.output) == dict(out_b.output)
            assert out_a.status == "finished"


def test_the_fanout_case_exercises_joins_and_spawns(
    make_runtime: MakeRuntime,
) -> None:
    out = make_runtime(fanout_dsl()).run_sync("t", {S.items: ["x", "y"]})
    assert out.output["log"] == ["audit", "index", "x", "y", "merge", "report 2"]
