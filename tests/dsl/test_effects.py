"""Effects: the primitives, the merge rules of ``docs/dsl.md``, the ``with`` form, and
lowering to ``NodeOutput`` (also through a running graph)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from hive_core import (
    END,
    GRAPH_EDGES,
    DefinitionError,
    InMemoryCheckpointStore,
    NodeInput,
    NodeOutput,
    Runtime,
    Schema,
    Spawn,
    Write,
    channel,
    reducers,
)
from hive_dsl import (
    Effects,
    End,
    GoTo,
    Interrupt,
    SpawnEach,
    UseGraphEdges,
    Workflow,
)
from hive_dsl._lower import lower_node_fn, to_output
from hive_dsl.testing import node_input

MakeRuntime = Callable[..., Runtime]


class S(Schema):
    topic = channel(str)
    count = channel(int)
    log = channel(list[str], reducer=reducers.append, update="multi")
    item = channel(str, scope="task_local")


def normalized(out: NodeOutput | None) -> tuple[object, ...] | None:
    """Field values with sequences as tuples (lowering may hand over lists)."""
    if out is None:
        return None
    return (tuple(out.writes), tuple(out.spawn), out.next, out.interrupt)


class TestPrimitives:
    def test_write_is_the_core_write_and_lowers_as_is(self) -> None:
        write = Write(S.topic, "bees")
        out = Effects(write).to_output()
        assert out.writes == (write,)
        assert out.writes[0] is write
        assert out.next is GRAPH_EDGES

    def test_the_reducer_says_what_a_write_does(self) -> None:
        """One primitive: a write replaces a last-write-wins channel and appends to
        an append channel, because that is what their reducers do."""
        wf = Workflow(S)

        @wf.node(start=True)
        def first(ctx: NodeInput) -> Effects:
            return Effects(Write(S.topic, "a"), Write(S.log, ["a"]), GoTo(second))

        @wf.node
        def second(ctx: NodeInput) -> Effects:
            return Effects(Write(S.topic, "b"), Write(S.log, ["b"]), End())

        out = Runtime(wf.compile()).run_sync("t")
        assert (out.output["topic"], out.output["log"]) == ("b", ["a", "b"])

    def test_the_old_set_and_append_are_gone(self) -> None:
        import hive_dsl

        assert hive_dsl.Write is Write
        assert not hasattr(hive_dsl, "Set")
        assert not hasattr(hive_dsl, "Append")
        assert not hasattr(Effects, "set")
        assert not hasattr(Effects, "append")

    def test_goto_routes_to_nodes_in_order(self) -> None:
        assert Effects(GoTo("b", "a")).next == ("b", "a")

    def test_goto_accepts_node_objects(self) -> None:
        wf = Workflow(S)

        @wf.node
        def other(ctx: NodeInput) -> None:
            return None

        assert Effects(GoTo(other)).next == ("other",)
        assert GoTo(other) == GoTo("other")
        assert hash(GoTo(other)) == hash(GoTo("other"))
        assert repr(GoTo(other, "x")) == "GoTo('other', 'x')"

    def test_goto_with_no_nodes_ends(self) -> None:
        assert Effects(GoTo()).next is END

    def test_end_and_use_graph_edges(self) -> None:
        assert Effects(End()).next is END
        assert Effects(End(), UseGraphEdges()).next is GRAPH_EDGES

    def test_interrupt_sets_the_payload(self) -> None:
        assert Effects(Interrupt({"q": 1})).to_output().interrupt == {"q": 1}

    def test_interrupt_none_is_rejected(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Interrupt(None)
        assert info.value.subject == "Interrupt"
        assert str(info.value).splitlines()[0].startswith("Interrupt(None) cannot")

    def test_spawn_each_makes_one_spawn_per_item(self) -> None:
        fx = Effects(SpawnEach(["x", "y"], "work", local=lambda i: {S.item: i}))
        assert fx.spawns == (Spawn("work", {S.item: "x"}), Spawn("work", {S.item: "y"}))
        assert fx.next is GRAPH_EDGES

    def test_spawn_each_without_local_spawns_empty_overlays(self) -> None:
        assert Effects(SpawnEach(range(2), "work")).spawns == (
            Spawn("work", {}),
            Spawn("work", {}),
        )

    def test_unknown_item_is_a_definition_error(self) -> None:
        with pytest.raises(DefinitionError) as info:
            Effects((S.topic, "x"))  # type: ignore[arg-type]
        assert info.value.subject == "tuple"
        assert (
            str(info.value).splitlines()[-1]
            == "Correct:   Effects(Write(Chat.topic, 'x'))"
        )

    def test_a_plain_function_is_not_a_node_reference(self) -> None:
        with pytest.raises(DefinitionError, match="Expected a node"):
            Effects(GoTo(len))  # type: ignore[arg-type]


class TestMergeRules:
    def test_writes_and_spawns_concatenate_in_order(self) -> None:
        fx = Effects(
            Write(S.topic, "a"),
            SpawnEach(["1"], "w", local=lambda i: {S.item: i}),
            Write(S.log, ["x"]),
            SpawnEach(["2"], "w", local=lambda i: {S.item: i}),
            Write(S.count, 3),
        )
        assert [w.channel_id for w in fx.writes] == ["topic", "log", "count"]
        assert [s.local for s in fx.spawns] == [{S.item: "1"}, {S.item: "2"}]

    def test_later_routing_wins(self) -> None:
        assert Effects(GoTo("a"), End()).next is END
        assert Effects(End(), GoTo("a")).next == ("a",)

    def test_later_interrupt_wins(self) -> None:
        assert Effects(Interrupt(1), Interrupt(2)).interrupt_payload == 2

    def test_default_next_follows_graph_edges(self) -> None:
        assert Effects(Write(S.count, 1)).next is GRAPH_EDGES

    def test_nested_effects_merge_in_place(self) -> None:
        inner = Effects(Write(S.log, ["in"]), GoTo("x"), Interrupt("q"))
        fx = Effects(Write(S.log, ["before"]), inner, Write(S.log, ["after"]))
        assert fx.writes_to(S.log) == [["before"], ["in"], ["after"]]
        assert fx.next == ("x",)
        assert fx.interrupt_payload == "q"

    def test_nested_effects_without_routing_keep_the_outer_routing(self) -> None:
        assert Effects(End(), Effects(Write(S.count, 1))).next is END


class TestEffectsBuilder:
    def test_methods_chain_and_match_the_primitives(self) -> None:
        built = (
            Effects()
            .write(S.topic, "t")
            .write(S.log, ["a"])
            .spawn("w", {S.item: "i"})
            .spawn_each(["j"], "w", local=lambda i: {S.item: i})
            .goto("next")
            .interrupt("ok?")
        )
        assert built == Effects(
            Write(S.topic, "t"),
            Write(S.log, ["a"]),
            SpawnEach(["i", "j"], "w", local=lambda i: {S.item: i}),
            GoTo("next"),
            Interrupt("ok?"),
        )

    def test_with_block_collects_effects(self) -> None:
        with Effects() as fx:
            fx.write(S.count, 1)
            fx.end()
        assert fx.to_output() == NodeOutput(writes=(Write(S.count, 1),), next=END)

    def test_add_and_use_graph_edges(self) -> None:
        fx = Effects().add(End(), Write(S.count, 2)).use_graph_edges()
        assert fx.next is GRAPH_EDGES
        assert fx.writes_to(S.count) == [2]

    def test_closed_effects_cannot_change(self) -> None:
        with Effects() as fx:
            pass
        with pytest.raises(DefinitionError) as info:
            fx.write(S.count, 1)
        assert info.value.subject == "Effects()"
        assert str(info.value).splitlines()[0] == (
            "Effects().write() was called after its `with` block closed"
        )

    def test_effects_are_single_use(self) -> None:
        fx = Effects()
        with fx:
            pass
        with pytest.raises(DefinitionError, match="already used"), fx:
            pass  # pragma: no cover

    def test_outer_effects_cannot_change_inside_an_inner_block(self) -> None:
        with Effects() as outer, Effects():
            with pytest.raises(DefinitionError) as info:
                outer.end()
            assert str(info.value).splitlines()[0] == (
                "Effects().end() was called while Effects() is open inside it"
            )

    def test_repr_and_equality(self) -> None:
        fx = Effects(Write(S.count, 1), SpawnEach(["a"], "w"), End(), Interrupt("q"))
        assert repr(fx) == "Effects(count=1, spawn=['w'], next=END, interrupt='q')"
        assert repr(Effects(GoTo("a"))) == "Effects(next=['a'])"
        assert fx != Effects()
        assert fx.__eq__(42) is NotImplemented


class TestLowering:
    @pytest.mark.parametrize(
        ("result", "expected"),
        [
            (None, None),
            (Effects(End()), NodeOutput(next=END)),
            (NodeOutput(next=END), NodeOutput(next=END)),
            (GoTo("x"), NodeOutput(next=("x",))),
            (Write(S.count, 1), NodeOutput(writes=(Write(S.count, 1),))),
        ],
        ids=["none", "effects", "node-output", "primitive", "set"],
    )
    def test_return_values_become_node_outputs(
        self, result: object, expected: NodeOutput | None
    ) -> None:
        assert normalized(to_output(result, "n")) == normalized(expected)

    def test_a_wrong_return_type_names_the_node(self) -> None:
        with pytest.raises(DefinitionError) as info:
            to_output(42, "count_words")
        assert info.value.subject == "count_words"
        assert str(info.value).splitlines()[0] == (
            "Node `count_words` returned int; expected Effects, an effect primitive, "
            "NodeOutput or None"
        )

    def test_a_coroutine_from_a_sync_function_is_explained(self) -> None:
        async def later() -> None:
            return None

        with pytest.raises(DefinitionError, match="declare it `async def`"):
            to_output(later(), "n")

    def test_async_functions_lower_to_async_functions(self) -> None:
        async def node(ctx: NodeInput) -> Effects:
            return Effects(End())

        core = lower_node_fn(node, "node")
        assert asyncio.iscoroutinefunction(core)
        result = asyncio.run(core(node_input(S)))
        assert normalized(result) == normalized(NodeOutput(next=END))


class TestEffectsInARun:
    def test_graph_applies_writes_spawns_and_routing(
        self, make_runtime: MakeRuntime
    ) -> None:
        wf = Workflow(S)

        @wf.node(start=True)
        def plan(ctx: NodeInput) -> Effects:
            with Effects() as fx:
                fx.write(S.topic, "bees")
                fx.spawn_each(["a", "b"], work, local=lambda i: {S.item: i})
                fx.goto(report)
            return fx

        @wf.node
        def work(ctx: NodeInput) -> Effects:
            return Effects(Write(S.log, [ctx.store.get(S.item)]), End())

        @wf.node
        async def report(ctx: NodeInput) -> Effects:
            return Effects(Write(S.log, ["report"]))

        out = make_runtime(wf.compile()).run_sync("t")
        assert out.output["topic"] == "bees"
        assert out.output["log"] == ["report", "a", "b"]

    def test_interrupt_pauses_the_run(self, make_runtime: MakeRuntime) -> None:
        wf = Workflow(S)

        @wf.node(start=True)
        def ask(ctx: NodeInput) -> Effects:
            if ctx.resume is None:
                return Effects(Interrupt("continue?"), GoTo(ask))
            return Effects(Write(S.topic, str(ctx.resume.payload)))

        rt = make_runtime(wf.compile(), checkpoint_store=InMemoryCheckpointStore())
        first = rt.run_sync("t")
        assert first.status == "interrupted"
        assert first.interrupt is not None
        assert first.interrupt.payload == "continue?"
        final = rt.resume_sync("t", first.interrupt.id, "yes")
        assert final.output["topic"] == "yes"

    def test_with_blocks_in_concurrent_async_nodes_do_not_interfere(
        self, make_runtime: MakeRuntime
    ) -> None:
        """Each task has its own builder stack, even across awaits."""
        wf = Workflow(S)

        async def slow(ctx: NodeInput) -> Effects:
            item = ctx.store.get(S.item)
            with Effects() as fx:
                fx.write(S.log, [f"{item}-start"])
                for _ in range(3):
                    await asyncio.sleep(0)
                fx.write(S.log, [f"{item}-end"])
            return fx

        worker = wf.node(slow, node_id="worker")

        @wf.node(start=True)
        def fan(ctx: NodeInput) -> Effects:
            return Effects(SpawnEach("abc", worker, local=lambda i: {S.item: i}), End())

        out = make_runtime(wf.compile()).run_sync("t")
        assert out.output["log"] == [
            "a-start",
            "a-end",
            "b-start",
            "b-end",
            "c-start",
            "c-end",
        ]
