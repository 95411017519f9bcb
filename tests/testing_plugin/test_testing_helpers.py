"""``hive_core.testing``: node inputs, scripted services and the ``Tracer``."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from hive_core import (
    ChannelTypeMismatchError,
    CompiledGraph,
    Environment,
    GraphBuilder,
    InMemoryCheckpointStore,
    NoCheckpointToResumeError,
    NodeError,
    NodeInput,
    NodeOutput,
    Resume,
    RunOptions,
    Schema,
    ScopeMismatchError,
    SystemClock,
    UnknownChannelError,
    Write,
    channel,
    reducers,
)
from hive_core.events import CustomDebug, ModelToken, RunFinished, StreamEvent
from hive_core.testing import (
    FakeClock,
    ScriptedCall,
    ScriptedService,
    Tracer,
    UnexpectedCallError,
    node_input,
)


class Desk(Schema):
    topic = channel(str, initial="tides")
    notes = channel(list[str], reducer=reducers.append, update="multi")
    count = channel(int)
    draft = channel(str, scope="task_local")


def take_note(node: NodeInput) -> NodeOutput:
    text = f"{node.store.get(Desk.topic)}/{node.store.get(Desk.draft)}"
    return NodeOutput(writes=[Write(Desk.notes, [text])])


def one_node(fn: object, node: str = "A") -> CompiledGraph:
    return GraphBuilder(Desk, start=[node]).add_node(node, fn).compile()  # type: ignore[arg-type]


class TestNodeInput:
    def test_defaults_to_initial_values(self) -> None:
        ctx = node_input(Desk)
        assert ctx.store.get(Desk.topic) == "tides"
        assert ctx.store.get(Desk.notes) == []
        assert ctx.store.get(Desk.draft) == ""
        assert (ctx.node_id, ctx.step, ctx.thread_id, ctx.resume) == (
            "n",
            0,
            "test",
            None,
        )
        assert ctx.run_id == "00000000-0000-0001-0000-000000000001"
        assert isinstance(ctx.environment.clock, FakeClock)

    def test_values_and_local_values_by_channel_or_id(self) -> None:
        ctx = node_input(
            Desk.spec(), {Desk.topic: "moon", "count": 3}, local={"draft": "intro"}
        )
        assert take_note(ctx).writes == [Write(Desk.notes, ["moon/intro"])]
        assert ctx.store.get(Desk.count) == 3

    def test_accepts_a_compiled_graph(self) -> None:
        ctx = node_input(one_node(take_note), local={Desk.draft: "x"}, node_id="A")
        assert ctx.store.get(Desk.draft) == "x"

    def test_task_id_matches_the_first_task_of_a_traced_run(
        self, hive_trace: Tracer
    ) -> None:
        graph = one_node(take_note)
        trace = hive_trace(graph)
        assert node_input(graph, node_id="A").task_id == trace.events[2]["task_id"]

    def test_values_are_type_checked(self) -> None:
        with pytest.raises(
            ChannelTypeMismatchError, match="`count` expects int, got str"
        ):
            node_input(Desk, {Desk.count: "3"})

    def test_scopes_are_checked(self) -> None:
        with pytest.raises(ScopeMismatchError, match="`draft` is task-local"):
            node_input(Desk, {Desk.draft: "x"})
        with pytest.raises(ScopeMismatchError, match="`topic` is global"):
            node_input(Desk, local={Desk.topic: "x"})

    def test_unknown_channels_are_rejected(self) -> None:
        with pytest.raises(UnknownChannelError, match="`nope`"):
            node_input(Desk, {"nope": 1})

    def test_resume_and_environment_pass_through(self) -> None:
        answer = Resume(interrupt_id="i", payload="yes", node="A")
        env = Environment(extras={"k": 1})
        ctx = node_input(Desk, node_id="B", step=4, resume=answer, environment=env)
        assert (ctx.node_id, ctx.step, ctx.resume, ctx.environment) == (
            "B",
            4,
            answer,
            env,
        )

    def test_stream_events_are_collected(self) -> None:
        emitted: list[StreamEvent] = []
        ctx = node_input(Desk, emitted=emitted)
        ctx.emit(ModelToken("Hel", metadata={"i": "0"}))
        ctx.emit_debug("cache-miss")
        assert emitted == [
            ModelToken("Hel", metadata={"i": "0"}),
            CustomDebug("cache-miss"),
        ]
        with pytest.raises(TypeError, match="got RunFinished"):
            ctx.emit(RunFinished(run_id="r", attempt_id="a", index=0))  # type: ignore[arg-type]


class TestScriptedService:
    def test_async_methods_answer_in_order_and_record_calls(self) -> None:
        svc = ScriptedService(search=["r1", "r2"], fetch=[{"id": 1}])
        assert inspect.iscoroutinefunction(svc.search)

        async def use() -> list[object]:
            return [await svc.search("a"), await svc.fetch(1), await svc.search(q="b")]

        assert asyncio.run(use()) == ["r1", {"id": 1}, "r2"]
        assert svc.calls == [
            ScriptedCall("search", ("a",), {}),
            ScriptedCall("fetch", (1,), {}),
            ScriptedCall("search", (), {"q": "b"}),
        ]
        assert svc.search is svc.search
        assert svc.remaining == {}
        svc.assert_exhausted()

    def test_sync_service_called_directly(self) -> None:
        svc = ScriptedService(["a", "b"], is_async=False)
        assert (svc("x"), svc("y")) == ("a", "b")
        assert [str(c) for c in svc.calls] == ["service('x')", "service('y')"]

    def test_async_service_called_directly(self) -> None:
        svc = ScriptedService(["a"])
        assert asyncio.run(svc(1)) == "a"

    def test_exceptions_are_raised_instances_or_classes(self) -> None:
        svc = ScriptedService(call=[TimeoutError("slow"), KeyError], is_async=False)
        with pytest.raises(TimeoutError, match="slow"):
            svc.call()
        with pytest.raises(KeyError):
            svc.call()

    def test_an_extra_call_fails_naming_it(self) -> None:
        svc = ScriptedService(search=["r1"], is_async=False)
        svc.search("tides")
        with pytest.raises(UnexpectedCallError) as info:
            svc.search("moon", limit=2)
        assert str(info.value) == (
            "ScriptedService: unexpected call #2 search('moon', limit=2) (call 2 "
            "overall): 1 response scripted for search(); earlier calls: "
            "search('tides')"
        )
        assert isinstance(info.value, AssertionError)
        assert len(svc.calls) == 2

    def test_calling_an_unscripted_service_fails(self) -> None:
        svc = ScriptedService(search=[], is_async=False)
        with pytest.raises(UnexpectedCallError, match="0 responses scripted for the"):
            svc()

    def test_unscripted_methods_are_attribute_errors(self) -> None:
        svc = ScriptedService(search=["r"])
        with pytest.raises(AttributeError, match=r"no script for `fetch`.*search"):
            svc.fetch  # noqa: B018
        assert not hasattr(svc, "__await__")

    def test_reserved_names_cannot_be_scripted(self) -> None:
        with pytest.raises(ValueError, match="cannot script calls, remaining"):
            ScriptedService(calls=[1], remaining=[2])

    def test_unused_responses_are_reported(self) -> None:
        svc = ScriptedService(["x"], search=["a", "b"], is_async=False)
        svc.search("q")
        assert svc.remaining == {"search": 1, "": 1}
        with pytest.raises(
            AssertionError, match=r"unused responses \(search: 1, service: 1\)"
        ):
            svc.assert_exhausted()
        assert repr(svc) == "<ScriptedService <call>, search, 1 calls>"

    def test_inside_a_run_an_extra_call_fails_the_node(
        self, hive_trace: Tracer
    ) -> None:
        async def lookup(node: NodeInput) -> NodeOutput:
            svc = node.environment.extras["svc"]
            assert isinstance(svc, ScriptedService)
            await svc.lookup(node.node_id)
            await svc.lookup(node.node_id)
            return NodeOutput()

        env = Environment(extras={"svc": ScriptedService(lookup=["only one"])})
        trace = hive_trace(one_node(lookup), environment=env, capture_errors=True)
        assert isinstance(trace.error, NodeError)
        assert isinstance(trace.error.__cause__, UnexpectedCallError)
        assert trace.kinds()[-1] == "task_failed"


class Loop(Schema):
    n = channel(int)
    answer = channel(str)


def ask(node: NodeInput) -> NodeOutput:
    if node.resume is None:
        return NodeOutput(interrupt="continue?")
    return NodeOutput(writes=[Write(Loop.answer, str(node.resume.payload))])


def asking_graph() -> CompiledGraph:
    return (
        GraphBuilder(Loop, start=["count"])
        .add_node("count", lambda node: NodeOutput(writes=[Write(Loop.n, 1)]))
        .add_node("ask", ask)
        .add_node("after", ask)
        .add_edge("count", "ask")
        .add_edge("ask", "after")
        .compile()
    )


class TestTracer:
    def test_resume_answers_the_pending_interrupt(self, hive_trace: Tracer) -> None:
        graph = asking_graph()
        first = hive_trace(graph)
        assert first.status == "interrupted"
        assert first.interrupt is not None and first.interrupt.payload == "continue?"
        resumed = hive_trace.resume("yes")
        assert resumed.kinds()[:3] == [
            "run_started",
            "checkpoint_loaded",
            "run_resumed",
        ]
        assert resumed.status == "finished"
        assert resumed.store == {"answer": "yes", "n": 1}

    def test_resume_by_id_through_the_call(self, hive_trace: Tracer) -> None:
        graph = asking_graph()
        first = hive_trace(graph, thread_id="t")
        assert first.interrupt is not None
        resumed = hive_trace(graph, thread_id="t", resume=(first.interrupt.id, "ok"))
        assert resumed.store["answer"] == "ok"
        with pytest.raises(NoCheckpointToResumeError):
            hive_trace(graph, thread_id="never-ran", resume=(None, "x"))

    def test_resume_needs_something_to_resume(self, hive_trace: Tracer) -> None:
        with pytest.raises(RuntimeError, match="nothing to resume"):
            hive_trace.resume("yes")
        with pytest.raises(TypeError, match="not both"):
            hive_trace(asking_graph(), {"n": 1}, resume=(None, "x"))

    def test_threads_are_independent_and_continue(self, hive_trace: Tracer) -> None:
        graph = one_node(take_note)
        a = hive_trace(graph, thread_id="a")
        b = hive_trace(graph, thread_id="b")
        assert a.events[1:] == b.events[1:]  # same ids: one SequentialIds per thread
        again = hive_trace(graph, thread_id="a")
        assert again.store["notes"] == ["tides/", "tides/"]

    def test_errors_propagate_with_the_trace_as_a_note(
        self, hive_trace: Tracer
    ) -> None:
        def boom(node: NodeInput) -> NodeOutput:
            raise ValueError("no")

        with pytest.raises(NodeError) as info:
            hive_trace(one_node(boom))
        note = info.value.__notes__[0]
        assert note.startswith("hive trace up to the error:\noutcome: error NodeError")
        assert "step 0 | task_failed         | ordinal=0 node=A " in note

    def test_captured_errors_are_part_of_the_trace(self, hive_trace: Tracer) -> None:
        def boom(node: NodeInput) -> NodeOutput:
            raise ValueError("no")

        trace = hive_trace(one_node(boom), capture_errors=True)
        assert trace.status == "error"
        assert trace.outcome is None and isinstance(trace.error, NodeError)
        assert trace.output == {}
        assert trace.to_text().startswith('outcome: error NodeError\nerror: "Node `A`')

    def test_the_real_clock_is_replaced_but_a_chosen_clock_is_kept(
        self, hive_trace: Tracer
    ) -> None:
        seen: list[object] = []

        def look(node: NodeInput) -> None:
            seen.append(node.environment.clock)

        graph = one_node(look)
        hive_trace(graph, environment=Environment(clock=SystemClock()))
        mine = FakeClock(time=5.0)
        hive_trace(graph, thread_id="mine", environment=Environment(clock=mine))
        assert isinstance(seen[0], FakeClock) and seen[1] is mine

    def test_uses_the_given_checkpoint_store(self, hive_trace: Tracer) -> None:
        store = InMemoryCheckpointStore()
        hive_trace(asking_graph(), checkpoint_store=store)
        assert asyncio.run(store.thread_exists("test"))
        assert hive_trace.runtime(asking_graph()).checkpoint_store is not store

    def test_stream_events_are_ordered_by_task(self, hive_trace: Tracer) -> None:
        async def talk(node: NodeInput) -> NodeOutput:
            for word in ("a", "b"):
                await asyncio.sleep(0.001 if node.node_id == "A" else 0)
                node.emit(ModelToken(f"{node.node_id}{word}"))
            return NodeOutput()

        graph = (
            GraphBuilder(Desk, start=["A", "B"])
            .add_node("A", talk)
            .add_node("B", talk)
            .compile()
        )
        trace = hive_trace(graph, options=RunOptions(max_steps=5))
        tokens = [ev["text"] for ev in trace.of_kind("model_token")]
        assert tokens == ["Aa", "Ab", "Ba", "Bb"]

    def test_async_use(self) -> None:
        async def main() -> tuple[str, str]:
            tracer = Tracer()
            graph = asking_graph()
            first = await tracer.run_async(graph)
            with pytest.raises(RuntimeError, match=r"use `await tracer\.run_async"):
                tracer(graph)
            resumed = await tracer.resume_async("fine")
            return first.status, resumed.status

        assert asyncio.run(main()) == ("interrupted", "finished")
