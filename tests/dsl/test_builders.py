"""Declarations: ``Edge``/``wf.edge``, ``Join``, ``Chain``, ``FanOut`` and ``Branch``
lower to the expected IR and route as documented."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hive_core import END, GRAPH_EDGES, NodeInput, Runtime, Schema, channel, reducers
from hive_dsl import (
    Branch,
    Chain,
    Edge,
    Effects,
    FanOut,
    Join,
    NodeDef,
    Workflow,
    Write,
)

MakeRuntime = Callable[..., Runtime]


class S(Schema):
    score = channel(int)
    log = channel(list[str], reducer=reducers.append, update="multi")


def logging_node(
    wf: Workflow, name: str, *, start: bool = False
) -> NodeDef[..., Effects]:
    def fn(ctx: NodeInput) -> Effects:
        return Effects(Write(S.log, [name]))

    return wf.node(fn, node_id=name, start=start)


def edges(wf: Workflow) -> list[tuple[str, str]]:
    return [(e.source, e.target) for e in wf.compile().ir.edges]


class TestEdgeAndJoin:
    def test_edge_forms_are_equivalent(self) -> None:
        wf = Workflow(S)
        a = logging_node(wf, "a", start=True)
        b = logging_node(wf, "b")
        logging_node(wf, "c")
        wf.edge(a, b)
        edge = Edge(wf, b, "c")
        assert (edge.source, edge.target) == (b, "c")
        assert edges(wf) == [("a", "b"), ("b", "c")]

    def test_join_lowers_to_a_join_edge(self, make_runtime: MakeRuntime) -> None:
        wf = Workflow(S)
        a = logging_node(wf, "a", start=True)
        b = logging_node(wf, "b", start=True)
        j = logging_node(wf, "j")
        join = Join(wf, [b, a], j)
        assert join.parents == (b, a)
        graph = wf.compile()
        assert [(jn.id, jn.parents) for jn in graph.ir.joins] == [
            ("join:a+b:j", ("a", "b"))
        ]
        assert make_runtime(graph).run_sync("t").output["log"] == ["a", "b", "j"]

    def test_wf_join_returns_the_join(self) -> None:
        wf = Workflow(S)
        a = logging_node(wf, "a", start=True)
        j = logging_node(wf, "j")
        assert wf.join([a], "j").target == "j"
        assert wf.compile().ir.joins[0].target == j.id


class TestChain:
    def test_plain_call_adds_edges_along_the_nodes(self) -> None:
        wf = Workflow(S)
        a, b, c = (logging_node(wf, n, start=n == "a") for n in "abc")
        chain = Chain(wf, a, b, c)
        assert chain.nodes == (a, b, c)
        assert edges(wf) == [("a", "b"), ("b", "c")]

    def test_with_block_extends_the_chain(self) -> None:
        wf = Workflow(S)
        a, b, c = (logging_node(wf, n, start=n == "a") for n in "abc")
        with Chain(wf, a) as chain:
            chain.then(b).then("c")
        assert edges(wf) == [("a", "b"), ("b", "c")]
        assert chain.describe() == "Chain(wf, a, b, 'c')"
        del c

    def test_chain_keeps_its_place_among_edges(self) -> None:
        wf = Workflow(S)
        a, b, c, d = (logging_node(wf, n, start=n == "a") for n in "abcd")
        wf.edge(a, d)
        Chain(wf, a, b, c)
        wf.edge(c, d)
        assert edges(wf) == [("a", "d"), ("a", "b"), ("b", "c"), ("c", "d")]

    def test_chain_runs_in_order(self, make_runtime: MakeRuntime) -> None:
        wf = Workflow(S)
        nodes = [logging_node(wf, n, start=n == "a") for n in "abc"]
        Chain(wf, *nodes)
        assert make_runtime(wf.compile()).run_sync("t").output["log"] == ["a", "b", "c"]


class TestFanOut:
    def test_plain_call_with_join(self, make_runtime: MakeRuntime) -> None:
        wf = Workflow(S)
        src = logging_node(wf, "src", start=True)
        left, right, merge = (logging_node(wf, n) for n in ("left", "right", "merge"))
        fan = FanOut(wf, src, [left, right], join_to=merge)
        assert fan.targets == (left, right)
        graph = wf.compile()
        assert [(e.source, e.target) for e in graph.ir.edges] == [
            ("src", "left"),
            ("src", "right"),
        ]
        assert graph.ir.joins[0].id == "join:left+right:merge"
        out = make_runtime(graph).run_sync("t")
        assert out.output["log"] == ["src", "left", "right", "merge"]

    def test_with_block_adds_targets(self) -> None:
        wf = Workflow(S)
        src = logging_node(wf, "src", start=True)
        left, right = (logging_node(wf, n) for n in ("left", "right"))
        with FanOut(wf, src) as fan:
            fan.to(left).to("right")
        assert edges(wf) == [("src", "left"), ("src", "right")]
        assert wf.compile().ir.joins == ()
        del right

    def test_with_block_extends_given_targets_and_join(self) -> None:
        wf = Workflow(S)
        src = logging_node(wf, "src", start=True)
        a, b, m = (logging_node(wf, n) for n in ("a", "b", "m"))
        with FanOut(wf, src, [a], join_to=m) as fan:
            fan.to(b)
        assert wf.compile().ir.joins[0].id == "join:a+b:m"


class TestBranch:
    def build(self) -> tuple[Workflow, Branch]:
        wf = Workflow(S)

        @wf.node(start=True)
        def score(ctx: NodeInput) -> None:
            return None

        high, mid, low = (logging_node(wf, n) for n in ("high", "mid", "low"))
        with Branch(wf, after=score) as b:
            b.case("high", when=lambda v: v.get(S.score) >= 8, then=high)
            b.case("mid", when=lambda v: v.get(S.score) >= 5, then=[mid, "low"])
            b.default(then=low)
        return wf, b

    @pytest.mark.parametrize(
        ("score", "log"),
        [(9, ["high"]), (8, ["high"]), (6, ["mid", "low"]), (1, ["low"])],
    )
    def test_first_true_case_wins(
        self, score: int, log: list[str], make_runtime: MakeRuntime
    ) -> None:
        wf, _ = self.build()
        out = make_runtime(wf.compile()).run_sync("t", {S.score: score})
        assert out.output["log"] == log

    def test_branch_lowers_to_a_router(self) -> None:
        wf, b = self.build()
        graph = wf.compile()
        assert graph.ir.routers == ("score",)
        assert b.case_names == ("high", "mid")
        assert graph.nodes["score"].router is not None

    def test_targets_may_be_end_or_graph_edges(self, make_runtime: MakeRuntime) -> None:
        wf = Workflow(S)

        @wf.node(start=True)
        def start(ctx: NodeInput) -> Effects:
            return Effects(Write(S.score, ctx.store.get(S.score)))

        after = logging_node(wf, "after")
        wf.edge(start, after)
        with Branch(wf, after=start) as b:
            b.case("stop", when=lambda v: v.get(S.score) == 0, then=END)
            b.default(then=GRAPH_EDGES)
        rt = make_runtime(wf.compile())
        assert rt.run_sync("a", {S.score: 0}).output["log"] == []
        assert rt.run_sync("b", {S.score: 1}).output["log"] == ["after"]

    def test_router_sees_the_nodes_own_writes(self, make_runtime: MakeRuntime) -> None:
        wf = Workflow(S)

        @wf.node(start=True)
        def decide(ctx: NodeInput) -> Effects:
            return Effects(Write(S.score, 10))

        yes, no = logging_node(wf, "yes"), logging_node(wf, "no")
        with Branch(wf, after=decide) as b:
            b.case("yes", when=lambda v: v.get(S.score) == 10, then=yes)
            b.default(then=no)
        assert make_runtime(wf.compile()).run_sync("t").output["log"] == ["yes"]
