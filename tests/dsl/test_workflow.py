"""``Workflow`` and ``@wf.node``: both decorator forms, node ids, ``NodeDef``, the
options passed to the core, and compiling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from hive_core import (
    CompilationError,
    CompiledGraph,
    DefinitionError,
    NodeInput,
    RetryPolicy,
    Runtime,
    Schema,
    channel,
    schema_of,
)
from hive_dsl import Effects, End, NodeDef, Workflow, Write
from hive_dsl.testing import node_input

MakeRuntime = Callable[..., Runtime]


class S(Schema):
    text = channel(str)
    n = channel(int)


class TestDecorator:
    def test_bare_form_uses_the_function_name(self) -> None:
        wf = Workflow(S)

        @wf.node
        def hello(ctx: NodeInput) -> Effects:
            return Effects(Write(S.text, "hi"))

        assert isinstance(hello, NodeDef)
        assert hello.id == "hello"
        assert not hello.start
        assert wf.nodes == (hello,)

    def test_called_form_takes_keyword_options(self) -> None:
        wf = Workflow(S)
        policy = RetryPolicy(max_attempts=2)

        @wf.node(start=True, node_id="first", retry=policy, blocking=True)
        def hello(ctx: NodeInput) -> None:
            return None

        assert (hello.id, hello.start, hello.retry, hello.blocking) == (
            "first",
            True,
            policy,
            True,
        )

    def test_plain_call_form_for_existing_callables(self) -> None:
        wf = Workflow(S)

        def step(ctx: NodeInput) -> None:
            return None

        nd = wf.node(step, start=True, node_id="x")
        assert nd.fn is step
        assert nd.id == "x"

    def test_the_user_function_is_untouched(self) -> None:
        wf = Workflow(S)

        def step(ctx: NodeInput) -> None:
            return None

        before = dict(vars(step))
        wf.node(step)
        assert vars(step) == before

    def test_nodedef_is_frozen(self) -> None:
        wf = Workflow(S)

        @wf.node
        def step(ctx: NodeInput) -> None:
            return None

        with pytest.raises(AttributeError, match="frozen"):
            step.id = "other"  # type: ignore[misc]
        with pytest.raises(AttributeError, match="frozen"):
            del step.id

    def test_nodedef_calls_the_plain_function(self) -> None:
        wf = Workflow(S)

        @wf.node
        def double(ctx: NodeInput) -> Effects:
            return Effects(Write(S.n, ctx.store.get(S.n) * 2))

        fx = double(node_input(S, {S.n: 21}))
        assert fx.writes_to(S.n) == [42]
        assert repr(double) == "NodeDef('double', workflow='S')"

    def test_async_nodes_stay_async(self) -> None:
        wf = Workflow(S)

        @wf.node
        async def fetch(ctx: NodeInput) -> Effects:
            return Effects(End())

        assert fetch.is_async
        assert asyncio.iscoroutinefunction(fetch.core_fn)
        assert asyncio.run(fetch(node_input(S))) == Effects(End())

    def test_callable_objects_with_async_call_are_async(self) -> None:
        class Fetcher:
            __name__ = "fetcher"

            async def __call__(self, ctx: NodeInput) -> None:
                return None

        wf = Workflow(S)
        assert wf.node(Fetcher()).is_async

    def test_object_without_name_needs_node_id(self) -> None:
        class Step:
            def __call__(self, ctx: NodeInput) -> None:
                return None

        wf = Workflow(S)
        with pytest.raises(DefinitionError) as info:
            wf.node(Step())
        assert info.value.subject == "Step"
        assert wf.node(Step(), node_id="step").id == "step"


class TestNodeIds:
    def test_duplicate_names_get_numbered_suffixes_in_order(self) -> None:
        wf = Workflow(S)

        def make() -> NodeDef[[NodeInput], None]:
            @wf.node
            def step(ctx: NodeInput) -> None:
                return None

            return step

        assert [make().id for _ in range(3)] == ["step", "step_2", "step_3"]

    def test_suffixes_skip_taken_ids(self) -> None:
        wf = Workflow(S)

        def step(ctx: NodeInput) -> None:
            return None

        wf.node(step, node_id="step_2")
        assert [wf.node(step).id, wf.node(step).id] == ["step", "step_3"]


class TestCompile:
    def test_options_reach_the_compiled_graph(self) -> None:
        wf = Workflow(S)
        policy = RetryPolicy(max_attempts=3)

        @wf.node(start=True, retry=policy)
        def a(ctx: NodeInput) -> None:
            return None

        @wf.node(start=True, blocking=True)
        def b(ctx: NodeInput) -> None:
            return None

        graph = wf.compile()
        assert isinstance(graph, CompiledGraph)
        assert graph.start == ("a", "b")
        assert graph.nodes["a"].retry == policy
        assert graph.nodes["b"].blocking
        assert graph.nodes["a"].fn is a.core_fn

    def test_output_projection(self, make_runtime: MakeRuntime) -> None:
        wf = Workflow(S, output=[S.n])

        @wf.node(start=True)
        def a(ctx: NodeInput) -> Effects:
            return Effects(Write(S.n, 1), Write(S.text, "x"))

        graph = wf.compile()
        assert graph.ir.output == ("n",)
        assert dict(make_runtime(graph).run_sync("t").output) == {"n": 1}

    def test_schema_spec_and_name(self) -> None:
        spec = schema_of([channel(int, id="n")], name="plain")
        wf = Workflow(spec)
        assert wf.schema is spec
        assert wf.name == "plain"
        assert Workflow(S, name="custom").name == "custom"

    def test_graph_version_override(self) -> None:
        wf = Workflow(S)

        @wf.node(start=True)
        def a(ctx: NodeInput) -> None:
            return None

        assert wf.compile(graph_version_override="v1").graph_version == "v1"

    def test_core_problems_are_reported_by_the_core(self) -> None:
        wf = Workflow(S)

        @wf.node(start=True)
        def a(ctx: NodeInput) -> None:
            return None

        @wf.node
        def b(ctx: NodeInput) -> None:
            return None

        wf.edge(a, b)
        wf.edge(b, a)
        with pytest.raises(CompilationError) as info:
            wf.compile()
        assert info.value.codes == ("static-cycle",)

    def test_repr(self) -> None:
        wf = Workflow(S)

        @wf.node
        def a(ctx: NodeInput) -> None:
            return None

        assert repr(wf) == "Workflow('S', nodes=['a'])"
