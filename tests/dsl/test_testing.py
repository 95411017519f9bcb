"""``hive_dsl.testing.node_input``: unit-test a node function without a runtime."""

from __future__ import annotations

import pytest

from hive_core import (
    ChannelTypeMismatchError,
    Environment,
    NodeInput,
    Resume,
    Schema,
    ScopeMismatchError,
    UnknownChannelError,
    channel,
    schema_of,
)
from hive_core.events import CustomDebug, StreamEvent
from hive_core.testing import FakeClock, SequentialIds
from hive_dsl import Effects, Interrupt, Workflow, Write
from hive_dsl.testing import node_input


class S(Schema):
    topic = channel(str)
    count = channel(int, initial=5)
    item = channel(str, scope="task_local")


wf = Workflow(S)


@wf.node
def describe(ctx: NodeInput) -> Effects:
    if ctx.resume is not None:
        return Effects(Write(S.topic, f"answer: {ctx.resume.payload}"))
    text = f"{ctx.store.get(S.topic)}/{ctx.store.get(S.item)}/{ctx.store.get(S.count)}"
    return Effects(Write(S.topic, text))


class TestNodeInput:
    def test_values_and_local_reach_the_view(self) -> None:
        fx = describe(node_input(S, {S.topic: "bees"}, local={S.item: "wings"}))
        assert fx.writes_to(S.topic) == ["bees/wings/5"]

    def test_missing_values_are_initial_values(self) -> None:
        assert describe(node_input(S)).writes_to(S.topic) == ["//5"]

    def test_channel_ids_work_as_keys(self) -> None:
        ctx = node_input(S, {"topic": "x"}, local={"item": "y"})
        assert (ctx.store.get(S.topic), ctx.store.get(S.item)) == ("x", "y")

    def test_a_bare_resume_payload_is_wrapped(self) -> None:
        ctx = node_input(S, resume="yes", node_id="describe")
        assert ctx.node_id == "describe"
        assert ctx.resume == Resume(
            interrupt_id="test-interrupt", payload="yes", node="describe"
        )
        assert describe(ctx).writes_to(S.topic) == ["answer: yes"]

    def test_a_resume_is_used_as_is(self) -> None:
        resume = Resume(interrupt_id="i", payload=1, node="n")
        assert node_input(S, resume=resume).resume is resume

    def test_run_context_fields(self) -> None:
        env = Environment(clock=FakeClock())
        emitted: list[StreamEvent] = []
        ctx = node_input(
            S, node_id="n", step=3, thread_id="th", environment=env, emitted=emitted
        )
        assert (ctx.node_id, ctx.step, ctx.thread_id) == ("n", 3, "th")
        assert ctx.run_id == str(SequentialIds().new_run_id())
        assert len(ctx.task_id) == 64
        assert ctx.environment is env
        ctx.emit(CustomDebug("hello"))
        assert emitted == [CustomDebug("hello")]

    def test_a_compiled_graph_gives_its_schema(self) -> None:
        @wf.node(start=True)
        def first(ctx: NodeInput) -> None:
            return None

        assert node_input(wf.compile(), {S.topic: "t"}).store.get(S.topic) == "t"

    def test_schema_spec_is_accepted(self) -> None:
        spec = schema_of([channel(int, id="n")])
        assert node_input(spec, {"n": 2}).store.get("n") == 2

    def test_wrong_keys_and_values_are_typed_errors(self) -> None:
        with pytest.raises(UnknownChannelError):
            node_input(S, {"nope": 1})
        with pytest.raises(ScopeMismatchError):
            node_input(S, {S.item: "x"})
        with pytest.raises(ScopeMismatchError):
            node_input(S, local={S.topic: "x"})
        with pytest.raises(ChannelTypeMismatchError):
            node_input(S, {S.count: "five"})

    def test_interrupting_nodes_return_their_payload(self) -> None:
        @wf.node
        def ask(ctx: NodeInput) -> Effects:
            return Effects(Interrupt({"q": "ok?"}))

        assert ask(node_input(S)).interrupt_payload == {"q": "ok?"}
