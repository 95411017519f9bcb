"""Graph compilation: every validation rule, HGV1, the IR, Mermaid and describe()."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence

import msgspec
import pytest
from syrupy.assertion import SnapshotAssertion

from hive_core import (
    END,
    GRAPH_EDGES,
    CompilationError,
    CompiledGraph,
    DefinitionError,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Problem,
    RetryPolicy,
    Schema,
    StoreView,
    channel,
    schema_of,
)
from hive_core.state import SchemaSpec

HGV1_ONE_NODE = "6614009a9f5308c8dca81acf8ed7ee4e22a3d946e77a9eb864c70db09d1b993d"

MERMAID_GOLDEN = """\
flowchart LR
  node_0["A"]
  node_1["B"]
  node_2["C"]
  node_3["J"]
  classDef router fill:#fff7ed,stroke:#c2410c,stroke-width:1px;
  class node_0 router
  node_0 --> node_1
  node_0 --> node_2
  classDef join fill:#eff6ff,stroke:#1d4ed8,stroke-width:1px;
  join_1{"join:B+C:J"}
  class join_1 join
  node_1 --> join_1
  node_2 --> join_1
  join_1 --> node_3"""

SCHEMA = schema_of(
    [
        channel(int, id="count"),
        channel(list[str], id="log"),
        channel(str, id="scratch", scope="task_local"),
    ]
)


def noop(node: NodeInput) -> NodeOutput | None:
    return None


def to_end(view: StoreView) -> Sequence[str]:
    return []


def builder(
    *nodes: str, start: Sequence[str] | None = None, schema: SchemaSpec = SCHEMA
) -> GraphBuilder:
    """A builder with ``nodes`` added in order and ``start`` defaulting to the first."""
    g = GraphBuilder(schema, start=list(nodes[:1]) if start is None else start)
    for n in nodes:
        g.add_node(n, noop)
    return g


def problems_of(g: GraphBuilder) -> tuple[Problem, ...]:
    with pytest.raises(CompilationError) as info:
        g.compile()
    return info.value.problems


def summary(problems: Sequence[Problem]) -> list[tuple[str, str, dict[str, str]]]:
    return [(p.code, p.subject, p.details) for p in problems]


def hgv1(
    start: Sequence[str],
    nodes: Sequence[str],
    routers: Sequence[str] = (),
    edges: Sequence[tuple[str, str]] = (),
    joins: Sequence[tuple[Sequence[str], str]] = (),
    output: Sequence[str] | None = None,
) -> str:
    """HGV1 written straight from docs/concepts/graphs.md, independent of the compiler."""

    def lp(s: str) -> bytes:
        return struct.pack(">I", len(s.encode())) + s.encode()

    def n(k: int) -> bytes:
        return struct.pack(">I", k)

    out = b"HGV1" + b"S" + n(len(start)) + b"".join(lp(s) for s in start)
    out += b"N" + n(len(nodes)) + b"".join(lp(x) for x in sorted(nodes))
    out += b"R" + n(len(routers)) + b"".join(lp(r) for r in sorted(routers))
    out += b"E" + n(len(edges)) + b"".join(lp(a) + lp(b) for a, b in edges)
    out += b"J" + n(len(joins))
    for parents, target in joins:
        out += lp(target) + n(len(parents)) + b"".join(lp(p) for p in sorted(parents))
    out += b"O"
    if output is None:
        out += b"\x00"
    else:
        ids = sorted(set(output))
        out += b"\x01" + n(len(ids)) + b"".join(lp(c) for c in ids)
    return hashlib.sha256(out).hexdigest()


def golden_graph() -> GraphBuilder:
    """The Mermaid example of docs/concepts/graphs.md: router on A, A->B, A->C, join of B and C into J."""
    g = builder("A", "B", "C", "J")
    g.add_router("A", lambda view: GRAPH_EDGES)
    g.add_edge("A", "B").add_edge("A", "C")
    g.add_join_edge(["B", "C"], "J")
    return g


def larger_graph() -> CompiledGraph:
    """Nine nodes, two routers, three joins, a retry policy and an output projection."""
    g = builder(
        "ingest",
        "plan",
        "research",
        "draft",
        "critique",
        "review",
        "merge",
        "publish",
        "archive",
        start=["ingest", "archive"],
    )
    g.add_node(
        "fetch",
        noop,
        retry_policy=RetryPolicy(max_attempts=4, initial_delay=0.5, max_delay=8.0),
    )
    g.add_edge("ingest", "plan")
    g.add_edge("plan", "research").add_edge("plan", "draft")
    g.add_edge("research", "fetch")
    g.add_edge("draft", "critique").add_edge("draft", "review")
    g.add_router("review", lambda view: ["draft"])
    g.add_router("plan", lambda view: GRAPH_EDGES)
    g.add_join_edge(["fetch", "research"], "merge")
    g.add_join_edge(["review", "critique", "merge"], "publish")
    g.add_join_edge(["publish"], "archive")
    g.set_output_projection(["log", "count", "log"])
    return g.compile()


class TestValidGraph:
    def test_one_node_graph_compiles(self) -> None:
        graph = builder("A").compile()
        assert isinstance(graph, CompiledGraph)
        assert graph.start == ("A",)
        assert list(graph.nodes) == ["A"]

    def test_schema_version_is_the_schemas(self) -> None:
        assert builder("A").compile().schema_version == SCHEMA.version

    def test_nodes_are_sorted_and_edges_keep_insertion_order(self) -> None:
        g = builder("C", "A", "B")
        g.add_edge("C", "B").add_edge("A", "B").add_edge("C", "A")
        ir = g.compile().ir
        assert [n.id for n in ir.nodes] == ["A", "B", "C"]
        assert [(e.source, e.target) for e in ir.edges] == [
            ("C", "B"),
            ("A", "B"),
            ("C", "A"),
        ]

    def test_start_keeps_builder_order(self) -> None:
        assert builder("B", "A", start=["B", "A"]).compile().start == ("B", "A")

    def test_join_has_canonical_id_and_sorted_parents(self) -> None:
        g = builder("A", "B", "C", "J")
        g.add_join_edge(["C", "A", "B"], "J")
        (join,) = g.compile().ir.joins
        assert join.id == "join:A+B+C:J"
        assert join.parents == ("A", "B", "C")
        assert join.target == "J"

    def test_output_projection_is_normalized_unique_and_sorted(self) -> None:
        g = builder("A").set_output_projection(["log", "count", "log"])
        assert g.compile().ir.output == ("count", "log")

    def test_output_projection_accepts_channel_keys(self) -> None:
        count = SCHEMA.by_id["count"]
        g = builder("A").set_output_projection([count])
        assert g.compile().ir.output == ("count",)

    def test_full_store_output_is_none(self) -> None:
        g = builder("A").set_output_projection(["count"]).set_output_projection(None)
        assert g.compile().ir.output is None

    def test_cycle_through_a_router_is_allowed(self) -> None:
        g = builder("A", "B")
        g.add_edge("A", "B")
        g.add_router("B", lambda view: ["A"])
        assert g.compile().ir.routers == ("B",)

    def test_node_specs_carry_the_lookup_tables(self) -> None:
        g = golden_graph()
        graph = g.compile()
        assert graph.nodes["A"].successors == ("B", "C")
        assert graph.nodes["A"].router is not None
        assert graph.nodes["B"].router is None
        assert graph.nodes["B"].contributes == (0,)
        assert graph.nodes["J"].consumes == (0,)
        assert graph.join_ids == ("join:B+C:J",)

    def test_node_options_are_recorded(self) -> None:
        policy = RetryPolicy(max_attempts=2)
        g = GraphBuilder(SCHEMA, start=["A"])
        g.add_node("A", noop, retry_policy=policy, blocking=True)
        (node,) = g.compile().ir.nodes
        assert node.retry == policy
        assert node.blocking is True

    def test_builder_methods_chain(self) -> None:
        g = GraphBuilder(SCHEMA, start=["A"])
        assert g.add_node("A", noop) is g
        assert g.add_edge("A", "A") is g
        assert g.add_join_edge(["A"], "A") is g
        assert g.add_router("A", to_end) is g
        assert g.set_output_projection(None) is g

    def test_builder_accepts_a_schema_subclass(self) -> None:
        class Small(Schema):
            n = channel(int)

        graph = GraphBuilder(Small, start=["A"]).add_node("A", noop).compile()
        assert graph.schema_version == Small.spec().version


class TestBuilderDefinitionErrors:
    def test_node_function_must_be_callable(self) -> None:
        with pytest.raises(DefinitionError) as info:
            GraphBuilder(SCHEMA, start=["A"]).add_node("A", "not callable")  # type: ignore[arg-type]
        assert info.value.subject == "A"
        assert "must be callable" in str(info.value)

    def test_router_must_be_callable(self) -> None:
        with pytest.raises(DefinitionError) as info:
            builder("A").add_router("A", None)  # type: ignore[arg-type]
        assert info.value.subject == "A"

    def test_blocking_async_node_is_rejected(self) -> None:
        async def fn(node: NodeInput) -> None:
            return None

        with pytest.raises(DefinitionError, match="blocking=True is only for sync"):
            GraphBuilder(SCHEMA, start=["A"]).add_node("A", fn, blocking=True)


class TestSchemaRules:
    def test_duplicate_channel_id(self) -> None:
        schema = schema_of([channel(int, id="x"), channel(int, id="x")])
        assert summary(problems_of(builder("A", schema=schema))) == [
            ("duplicate-channel-id", "x", {})
        ]

    def test_task_local_untracked(self) -> None:
        schema = schema_of(
            [channel(int, id="t", scope="task_local", persistence="untracked")]
        )
        assert summary(problems_of(builder("A", schema=schema))) == [
            ("task-local-untracked", "t", {})
        ]

    def test_missing_codec(self) -> None:
        schema = schema_of([channel(int, id="c", codec=None)])
        assert summary(problems_of(builder("A", schema=schema))) == [
            ("missing-codec", "c", {})
        ]


class TestStructureRules:
    def test_start_empty(self) -> None:
        problems = problems_of(builder("A", start=[]))
        assert summary(problems) == [("start-empty", "", {})]
        assert problems[0].message == "The start list is empty"

    def test_duplicate_start_node(self) -> None:
        problems = problems_of(builder("A", "B", start=["A", "B", "A"]))
        assert summary(problems) == [("duplicate-start-node", "A", {})]

    def test_duplicate_node_id_one_problem_per_id_sorted(self) -> None:
        problems = problems_of(builder("B", "A", "B", "A", "A"))
        assert summary(problems) == [
            ("duplicate-node-id", "A", {}),
            ("duplicate-node-id", "B", {}),
        ]
        assert "added 3 times" in problems[0].message

    @pytest.mark.parametrize("bad", ["a+b", "a:b", ""], ids=["plus", "colon", "empty"])
    def test_reserved_character_in_node_id(self, bad: str) -> None:
        problems = problems_of(builder("A", bad))
        assert summary(problems) == [("reserved-character-in-node-id", bad, {})]

    def test_reserved_characters_reported_in_sorted_order(self) -> None:
        problems = problems_of(builder("A", "z:1", "b+c"))
        assert [p.subject for p in problems] == ["b+c", "z:1"]

    def test_unknown_start_node(self) -> None:
        problems = problems_of(builder("A", start=["A", "ghost"]))
        assert summary(problems) == [("unknown-start-node", "ghost", {})]


class TestEdgeRules:
    def test_unknown_edge_target(self) -> None:
        g = builder("A").add_edge("A", "ghost")
        assert summary(problems_of(g)) == [
            ("unknown-edge-endpoint", "ghost", {"from": "A", "to": "ghost"})
        ]

    def test_unknown_edge_source(self) -> None:
        g = builder("A").add_edge("ghost", "A")
        assert summary(problems_of(g)) == [
            ("unknown-edge-endpoint", "ghost", {"from": "ghost", "to": "A"})
        ]

    def test_both_endpoints_unknown_from_first(self) -> None:
        g = builder("A").add_edge("x", "y")
        assert [p.subject for p in problems_of(g)] == ["x", "y"]

    def test_unknown_self_edge_is_reported_once(self) -> None:
        g = builder("A").add_edge("x", "x")
        assert summary(problems_of(g)) == [
            ("unknown-edge-endpoint", "x", {"from": "x", "to": "x"})
        ]

    def test_edges_checked_in_insertion_order(self) -> None:
        g = builder("A").add_edge("A", "z").add_edge("A", "b")
        assert [p.subject for p in problems_of(g)] == ["z", "b"]


class TestRouterRules:
    def test_unknown_router_source(self) -> None:
        g = builder("A").add_router("ghost", to_end)
        assert summary(problems_of(g)) == [("unknown-router-source", "ghost", {})]

    def test_duplicate_router(self) -> None:
        g = builder("A").add_router("A", to_end).add_router("A", to_end)
        assert summary(problems_of(g)) == [("duplicate-router", "A", {})]


class TestJoinRules:
    def test_join_parents_empty(self) -> None:
        g = builder("A", "J").add_join_edge([], "J")
        assert summary(problems_of(g)) == [("join-parents-empty", "J", {})]

    def test_join_parents_duplicate(self) -> None:
        g = builder("A", "B", "J").add_join_edge(["A", "B", "A"], "J")
        assert summary(problems_of(g)) == [
            ("join-parents-duplicate", "A", {"target": "J"})
        ]

    def test_join_parents_contain_target(self) -> None:
        g = builder("A", "J").add_join_edge(["A", "J"], "J")
        assert summary(problems_of(g)) == [("join-parents-contain-target", "J", {})]

    def test_unknown_join_parent(self) -> None:
        g = builder("A", "J").add_join_edge(["A", "ghost"], "J")
        assert summary(problems_of(g)) == [
            ("unknown-join-parent", "ghost", {"target": "J"})
        ]

    def test_unknown_join_target(self) -> None:
        g = builder("A", "B").add_join_edge(["A", "B"], "ghost")
        problems = problems_of(g)
        assert summary(problems) == [("unknown-join-target", "ghost", {})]
        assert "join:A+B:ghost" in problems[0].message

    def test_duplicate_join_edge_regardless_of_parent_order(self) -> None:
        g = builder("A", "B", "J")
        g.add_join_edge(["A", "B"], "J").add_join_edge(["B", "A"], "J")
        assert summary(problems_of(g)) == [("duplicate-join-edge", "join:A+B:J", {})]

    def test_join_checks_run_in_order_for_each_join(self) -> None:
        g = builder("A", "J")
        g.add_join_edge(["J", "J", "ghost"], "J")
        assert [p.code for p in problems_of(g)] == [
            "join-parents-duplicate",
            "join-parents-contain-target",
            "unknown-join-parent",
        ]


class TestRetryRules:
    @pytest.mark.parametrize(
        ("policy", "why"),
        [
            (RetryPolicy(max_attempts=0), "max_attempts must be >= 1, got 0"),
            (RetryPolicy(factor=0.5), "factor must be finite and >= 1.0, got 0.5"),
            (RetryPolicy(factor=float("inf")), "factor must be finite"),
            (RetryPolicy(factor=float("nan")), "factor must be finite"),
            (RetryPolicy(initial_delay=-1.0), "delays must be >= 0"),
            (RetryPolicy(max_delay=-1.0), "delays must be >= 0"),
        ],
        ids=["attempts", "factor-low", "factor-inf", "factor-nan", "initial", "max"],
    )
    def test_invalid_retry_policy(self, policy: RetryPolicy, why: str) -> None:
        g = GraphBuilder(SCHEMA, start=["A"]).add_node("A", noop, retry_policy=policy)
        problems = problems_of(g)
        assert summary(problems) == [("invalid-retry-policy", "A", {})]
        assert why in problems[0].message

    def test_reported_in_sorted_node_order(self) -> None:
        bad = RetryPolicy(max_attempts=0)
        g = GraphBuilder(SCHEMA, start=["A"])
        g.add_node("Z", noop, retry_policy=bad).add_node("A", noop, retry_policy=bad)
        assert [p.subject for p in problems_of(g)] == ["A", "Z"]

    def test_delay_after_grows_and_is_capped(self) -> None:
        policy = RetryPolicy(initial_delay=1.0, factor=3.0, max_delay=5.0)
        assert [policy.delay_after(a) for a in (1, 2, 3)] == [1.0, 3.0, 5.0]


class TestOutputRules:
    def test_output_projection_unknown_channel(self) -> None:
        g = builder("A").set_output_projection(["count", "ghost"])
        assert summary(problems_of(g)) == [
            ("output-projection-unknown-channel", "ghost", {})
        ]

    def test_output_projection_task_local(self) -> None:
        g = builder("A").set_output_projection(["scratch"])
        assert summary(problems_of(g)) == [
            ("output-projection-task-local", "scratch", {})
        ]

    def test_checked_once_per_id_in_sorted_order(self) -> None:
        g = builder("A").set_output_projection(["zz", "scratch", "aa", "zz"])
        assert summary(problems_of(g)) == [
            ("output-projection-unknown-channel", "aa", {}),
            ("output-projection-task-local", "scratch", {}),
            ("output-projection-unknown-channel", "zz", {}),
        ]


class TestStaticCycleRule:
    def test_two_node_cycle(self) -> None:
        g = builder("A", "B").add_edge("A", "B").add_edge("B", "A")
        problems = problems_of(g)
        assert summary(problems) == [("static-cycle", "A", {"nodes": "A,B"})]
        assert "loop with a router" in problems[0].message

    def test_self_loop(self) -> None:
        g = builder("A").add_edge("A", "A")
        assert summary(problems_of(g)) == [("static-cycle", "A", {"nodes": "A"})]

    def test_lists_every_node_left_with_incoming_edges(self) -> None:
        # Kahn's algorithm leaves the cycle and everything downstream of it.
        g = builder("S", "B", "C", "D", "E")
        g.add_edge("S", "B").add_edge("B", "C").add_edge("C", "B").add_edge("C", "D")
        g.add_edge("S", "E")
        assert summary(problems_of(g)) == [("static-cycle", "B", {"nodes": "B,C,D"})]

    def test_join_edges_do_not_count(self) -> None:
        """A join back to an ancestor is a barrier, not a static cycle."""
        g = builder("A", "B").add_edge("A", "B").add_join_edge(["B"], "A")
        assert g.compile().join_ids == ("join:B:A",)


class TestAllProblemsAtOnce:
    def test_every_rule_reported_in_spec_order(self) -> None:
        schema = schema_of(
            [
                channel(int, id="dup"),
                channel(int, id="dup"),
                channel(int, id="tl", scope="task_local", persistence="untracked"),
                channel(int, id="raw", codec=None),
                channel(int, id="g"),
            ]
        )
        g = GraphBuilder(schema, start=["A", "A", "nowhere"])
        g.add_node("A", noop).add_node("A", noop).add_node("x+y", noop)
        g.add_node("C", noop).add_node("D", noop, retry_policy=RetryPolicy(factor=0))
        g.add_edge("A", "ghost").add_edge("C", "D").add_edge("D", "C")
        g.add_router("nobody", to_end).add_router("A", to_end).add_router("A", to_end)
        g.add_join_edge([], "C")
        g.add_join_edge(["A", "A"], "D")
        g.add_join_edge(["C", "D"], "C")
        g.add_join_edge(["X"], "Y")
        g.add_join_edge(["A", "C"], "D").add_join_edge(["C", "A"], "D")
        g.set_output_projection(["tl", "nope", "g"])
        with pytest.raises(CompilationError) as info:
            g.compile()
        err = info.value
        assert [(p.code, p.subject) for p in err.problems] == [
            # schema registry
            ("duplicate-channel-id", "dup"),
            ("task-local-untracked", "tl"),
            ("missing-codec", "raw"),
            # structure
            ("duplicate-start-node", "A"),
            ("duplicate-node-id", "A"),
            ("reserved-character-in-node-id", "x+y"),
            ("unknown-start-node", "nowhere"),
            # static edges
            ("unknown-edge-endpoint", "ghost"),
            # routers
            ("unknown-router-source", "nobody"),
            ("duplicate-router", "A"),
            # joins, each join's checks in order
            ("join-parents-empty", "C"),
            ("join-parents-duplicate", "A"),
            ("join-parents-contain-target", "C"),
            ("unknown-join-parent", "X"),
            ("unknown-join-target", "Y"),
            ("duplicate-join-edge", "join:A+C:D"),
            # retry policies
            ("invalid-retry-policy", "D"),
            # output projection
            ("output-projection-unknown-channel", "nope"),
            ("output-projection-task-local", "tl"),
            # static cycle
            ("static-cycle", "C"),
        ]
        assert err.codes == tuple(p.code for p in err.problems)
        lines = str(err).splitlines()
        assert lines[0] == "Graph failed to compile with 20 problems:"
        assert (
            lines[1] == "  [duplicate-channel-id] Channel id `dup` is declared 2 times"
        )
        assert len(lines) == 21

    def test_single_problem_message_is_singular(self) -> None:
        with pytest.raises(CompilationError, match="with 1 problem:"):
            builder("A", start=[]).compile()

    def test_compilation_error_is_a_value_error(self) -> None:
        with pytest.raises(ValueError):
            builder("A", start=[]).compile()


class TestGraphVersion:
    def test_hgv1_one_node_golden(self) -> None:
        assert builder("A").compile().graph_version == HGV1_ONE_NODE
        assert hgv1(["A"], ["A"]) == HGV1_ONE_NODE

    def test_matches_the_spec_layout_for_a_richer_graph(self) -> None:
        graph = golden_graph().set_output_projection(["log", "count"]).compile()
        expected = hgv1(
            start=["A"],
            nodes=["A", "B", "C", "J"],
            routers=["A"],
            edges=[("A", "B"), ("A", "C")],
            joins=[(["B", "C"], "J")],
            output=["count", "log"],
        )
        assert graph.graph_version == expected

    def test_ir_carries_the_version(self) -> None:
        graph = builder("A").compile()
        assert graph.ir.graph_version == graph.graph_version

    def test_stable_across_recompiles(self) -> None:
        g = golden_graph()
        assert g.compile().graph_version == g.compile().graph_version
        assert golden_graph().compile().graph_version == g.compile().graph_version

    def test_independent_of_node_insertion_order(self) -> None:
        assert (
            builder("A", "B").compile().graph_version
            == builder("B", "A", start=["A"]).compile().graph_version
        )

    def test_independent_of_router_functions(self) -> None:
        one = builder("A").add_router("A", to_end).compile()
        other = builder("A").add_router("A", lambda v: END).compile()
        assert one.graph_version == other.graph_version

    @pytest.mark.parametrize(
        "change",
        [
            lambda g: g.add_edge("A", "B"),
            lambda g: g.add_join_edge(["A"], "B"),
            lambda g: g.add_router("A", to_end),
            lambda g: g.set_output_projection(["count"]),
            lambda g: g.set_output_projection([]),
            lambda g: g.add_node("C", noop),
        ],
        ids=["edge", "join", "router", "output", "empty-output", "node"],
    )
    def test_structure_changes_the_version(
        self, change: Callable[[GraphBuilder], object]
    ) -> None:
        before = builder("A", "B").compile().graph_version
        g = builder("A", "B")
        change(g)
        assert g.compile().graph_version != before

    def test_edge_order_changes_the_version(self) -> None:
        one = builder("A", "B", "C").add_edge("A", "B").add_edge("A", "C")
        two = builder("A", "B", "C").add_edge("A", "C").add_edge("A", "B")
        assert one.compile().graph_version != two.compile().graph_version

    def test_start_order_changes_the_version(self) -> None:
        one = builder("A", "B", start=["A", "B"]).compile()
        two = builder("A", "B", start=["B", "A"]).compile()
        assert one.graph_version != two.graph_version

    def test_join_order_changes_the_version(self) -> None:
        one = builder("A", "B", "C")
        one.add_join_edge(["A"], "C").add_join_edge(["B"], "C")
        two = builder("A", "B", "C")
        two.add_join_edge(["B"], "C").add_join_edge(["A"], "C")
        assert one.compile().graph_version != two.compile().graph_version

    def test_join_parent_order_does_not_matter(self) -> None:
        one = builder("A", "B", "C").add_join_edge(["A", "B"], "C")
        two = builder("A", "B", "C").add_join_edge(["B", "A"], "C")
        assert one.compile().graph_version == two.compile().graph_version

    def test_retry_policy_adds_a_section(self) -> None:
        g = GraphBuilder(SCHEMA, start=["A"])
        g.add_node("A", noop, retry_policy=RetryPolicy())
        assert g.compile().graph_version != HGV1_ONE_NODE

    def test_retry_policy_values_change_the_version(self) -> None:
        def version(policy: RetryPolicy) -> str:
            g = GraphBuilder(SCHEMA, start=["A"])
            return g.add_node("A", noop, retry_policy=policy).compile().graph_version

        assert version(RetryPolicy(max_attempts=2)) != version(
            RetryPolicy(max_attempts=3)
        )

    @pytest.mark.parametrize("override", ["v2-release", "", "x" * 100])
    def test_override_is_used_verbatim(self, override: str) -> None:
        graph = builder("A").compile(graph_version_override=override)
        assert graph.graph_version == override
        assert graph.describe()["graph_version"] == override


class TestMermaid:
    def test_golden_line_for_line(self) -> None:
        rendered = golden_graph().compile().to_mermaid()
        assert rendered.split("\n") == MERMAID_GOLDEN.split("\n")
        assert rendered == MERMAID_GOLDEN
        assert not rendered.endswith("\n")

    def test_plain_graph_has_no_class_definitions(self) -> None:
        g = builder("A", "B").add_edge("A", "B")
        assert g.compile().to_mermaid() == (
            'flowchart LR\n  node_0["A"]\n  node_1["B"]\n  node_0 --> node_1'
        )

    def test_quotes_in_labels_are_escaped(self) -> None:
        rendered = builder('say "hi"').compile().to_mermaid()
        assert rendered.split("\n")[1] == '  node_0["say \\"hi\\""]'

    def test_join_parents_are_sorted(self) -> None:
        g = builder("A", "B", "J").add_join_edge(["B", "A"], "J")
        lines = g.compile().to_mermaid().split("\n")
        assert lines[-3:] == [
            "  node_0 --> join_1",
            "  node_1 --> join_1",
            "  join_1 --> node_2",
        ]


class TestDescription:
    def test_is_plain_data(self) -> None:
        described = golden_graph().compile().describe()
        assert described == {
            "schema_version": SCHEMA.version,
            "graph_version": golden_graph().compile().graph_version,
            "start": ("A",),
            "nodes": tuple({"id": n, "retry": None, "blocking": False} for n in "ABCJ"),
            "edges": (
                {"source": "A", "target": "B"},
                {"source": "A", "target": "C"},
            ),
            "joins": ({"id": "join:B+C:J", "parents": ("B", "C"), "target": "J"},),
            "routers": ("A",),
            "output": None,
        }

    def test_ir_is_frozen(self) -> None:
        ir = golden_graph().compile().ir
        with pytest.raises(AttributeError):
            ir.start = ("B",)  # type: ignore[misc]
        with pytest.raises(AttributeError):
            ir.nodes[0].id = "Z"  # type: ignore[misc]

    def test_ir_encoding_is_deterministic(self) -> None:
        one = msgspec.json.encode(golden_graph().compile().ir, order="deterministic")
        two = msgspec.json.encode(golden_graph().compile().ir, order="deterministic")
        assert one == two

    def test_ir_round_trips_through_json(self) -> None:
        ir = larger_graph().ir
        decoded = msgspec.json.decode(msgspec.json.encode(ir), type=type(ir))
        assert decoded == ir


class TestLargerGraphSnapshots:
    def test_mermaid(self, snapshot: SnapshotAssertion) -> None:
        assert larger_graph().to_mermaid() == snapshot(name="mermaid")

    def test_describe(self, snapshot: SnapshotAssertion) -> None:
        assert larger_graph().describe() == snapshot(name="describe")
