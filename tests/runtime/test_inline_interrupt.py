"""Inline interrupts: ``answer = ctx.interrupt(payload)`` pauses the first run and
returns the typed answer when the resumed run executes the node again."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from hive_core import (
    DefinitionError,
    GraphBuilder,
    InMemoryCheckpointStore,
    InterruptPendingError,
    InterruptRepeatedError,
    NodeError,
    NodeInput,
    NodeOutput,
    ResumePayloadError,
    Runtime,
    Schema,
    Spawn,
    Write,
    channel,
    reducers,
)
from hive_core.testing import SequentialIds
from hive_dsl import interrupt


class Verdict(msgspec.Struct, frozen=True):
    approved: bool
    note: str = ""


class S(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    item = channel(str, scope="task_local")
    interrupt_payload = str
    resume_payload = Verdict


class Loose(Schema):  # no declared resume type: answers arrive as sent
    log = channel(list[str], reducer=reducers.append, update="multi")


def runtime(graph: Any) -> Runtime:
    return Runtime(
        graph, checkpoint_store=InMemoryCheckpointStore(), ids=SequentialIds()
    )


def one(fn: Any, schema: type[Schema] = S) -> Any:
    return GraphBuilder(schema, start=["ask"]).add_node("ask", fn).compile()


class TestPauseAndResume:
    def test_first_run_pauses_and_the_resumed_run_gets_the_typed_answer(
        self,
    ) -> None:
        runs: list[str] = []

        def ask(ctx: NodeInput) -> NodeOutput:
            runs.append("before")
            verdict = ctx.interrupt("publish?")
            runs.append(f"after {verdict!r}")
            return NodeOutput(writes=[Write(S.log, [f"approved={verdict.approved}"])])

        rt = runtime(one(ask))
        paused = rt.run_sync("t")
        assert paused.status == "interrupted" and paused.interrupt is not None
        assert (paused.interrupt.payload, paused.interrupt.node) == ("publish?", "ask")
        assert paused.output["log"] == []  # the paused run wrote nothing
        assert runs == ["before"]
        with pytest.raises(InterruptPendingError):
            rt.run_sync("t")  # one pending interrupt per thread, as always
        done = rt.resume_sync("t", paused.interrupt.id, {"approved": True})
        assert done.status == "finished"
        assert done.output["log"] == ["approved=True"]
        assert runs == ["before", "before", "after Verdict(approved=True, note='')"]

    def test_it_is_sugar_over_interrupt_and_goto_self(self) -> None:
        def inline(ctx: NodeInput) -> NodeOutput:
            verdict = ctx.interrupt("publish?")
            return NodeOutput(writes=[Write(S.log, [verdict.note])])

        def explicit(ctx: NodeInput) -> NodeOutput:
            if ctx.resume is None or ctx.resume.node != ctx.node_id:
                return NodeOutput(interrupt="publish?", next=[ctx.node_id])
            verdict: Any = ctx.resume.payload
            return NodeOutput(writes=[Write(S.log, [verdict.note])])

        def trace(fn: Any) -> tuple[str, list[str], Any]:
            rt = runtime(one(fn))
            handle = rt.run("t")
            events: list[Any] = []

            async def go() -> Any:
                async for e in handle.events:
                    events.append(e)
                return await handle.outcome()

            paused = asyncio.run(go())
            done = rt.resume_sync("t", paused.interrupt.id, Verdict(True, "ok"))
            kinds = [type(e).__name__ for e in events]
            return paused.interrupt.id, kinds, done.output

        # same deterministic interrupt id, same events, same result
        assert trace(inline) == trace(explicit)

    def test_async_nodes_and_except_exception_do_not_swallow_the_pause(
        self,
    ) -> None:
        async def ask(ctx: NodeInput) -> NodeOutput:
            try:
                verdict = ctx.interrupt("publish?")
            except Exception:  # a broad handler must not eat the pause
                return NodeOutput(writes=[Write(S.log, ["swallowed"])])
            return NodeOutput(writes=[Write(S.log, [str(verdict.approved)])])

        rt = runtime(one(ask))
        paused = rt.run_sync("t")
        assert paused.status == "interrupted" and paused.interrupt is not None
        done = rt.resume_sync("t", paused.interrupt.id, {"approved": False})
        assert done.output["log"] == ["False"]

    def test_a_spawned_task_is_run_again_with_its_task_local_values(self) -> None:
        def fan(ctx: NodeInput) -> NodeOutput:
            return NodeOutput(spawn=[Spawn("ask", {S.item: "draft-7"})], next=[])

        def ask(ctx: NodeInput) -> NodeOutput:
            item = ctx.store.get(S.item)
            verdict = ctx.interrupt(f"publish {item}?")
            return NodeOutput(writes=[Write(S.log, [f"{item}: {verdict.approved}"])])

        graph = (
            GraphBuilder(S, start=["fan"])
            .add_node("fan", fan)
            .add_node("ask", ask)
            .compile()
        )
        rt = runtime(graph)
        paused = rt.run_sync("t")
        assert paused.interrupt is not None
        assert paused.interrupt.payload == "publish draft-7?"
        done = rt.resume_sync("t", paused.interrupt.id, {"approved": True})
        assert done.output["log"] == ["draft-7: True"]

    def test_asking_again_means_routing_back_to_the_node(self) -> None:
        def ask_age(ctx: NodeInput) -> NodeOutput:
            answer = ctx.interrupt("age?")
            if not str(answer).isdigit():
                return NodeOutput(
                    writes=[Write(Loose.log, [f"bad {answer}"])], next=["ask"]
                )
            return NodeOutput(writes=[Write(Loose.log, [f"age {answer}"])])

        rt = runtime(one(ask_age, Loose))
        first = rt.run_sync("t")
        assert first.interrupt is not None
        again = rt.resume_sync("t", first.interrupt.id, "old")
        assert again.status == "interrupted" and again.interrupt is not None
        assert again.interrupt.id != first.interrupt.id  # a new task, a new id
        done = rt.resume_sync("t", again.interrupt.id, "42")
        assert done.output["log"] == ["bad old", "age 42"]


class TestMisuse:
    def test_a_second_call_in_one_run_is_a_typed_error(self) -> None:
        def twice(ctx: NodeInput) -> NodeOutput:
            ctx.interrupt("one?")
            ctx.interrupt("two?")
            return NodeOutput()

        rt = runtime(one(twice))
        paused = rt.run_sync("t")
        assert paused.interrupt is not None
        with pytest.raises(NodeError) as info:
            rt.resume_sync("t", paused.interrupt.id, {"approved": True})
        cause = info.value.__cause__
        assert isinstance(cause, InterruptRepeatedError)
        assert (cause.node_id, cause.code) == ("ask", "interrupt-repeated")
        assert "Fix: ask once per run" in str(cause)

    def test_none_is_not_a_payload(self) -> None:
        rt = runtime(one(lambda ctx: ctx.interrupt(None)))
        with pytest.raises(NodeError) as info:
            rt.run_sync("t")
        assert isinstance(info.value.__cause__, DefinitionError)


class TestTypedHelper:
    def test_expect_converts_the_answer(self) -> None:
        def ask(ctx: NodeInput) -> NodeOutput:
            verdict = interrupt(ctx, "publish?", expect=Verdict)
            return NodeOutput(writes=[Write(Loose.log, [f"{verdict.approved}"])])

        rt = runtime(one(ask, Loose))
        paused = rt.run_sync("t")
        assert paused.interrupt is not None
        done = rt.resume_sync("t", paused.interrupt.id, {"approved": True})
        assert done.output["log"] == ["True"]

    def test_an_answer_of_the_wrong_shape_fails_the_node_typed(self) -> None:
        def ask(ctx: NodeInput) -> NodeOutput:
            interrupt(ctx, "publish?", expect=Verdict)
            return NodeOutput()

        rt = runtime(one(ask, Loose))
        paused = rt.run_sync("t")
        assert paused.interrupt is not None
        with pytest.raises(NodeError) as info:
            rt.resume_sync("t", paused.interrupt.id, {"approved": "perhaps"})
        cause = info.value.__cause__
        assert isinstance(cause, ResumePayloadError) and cause.expected == "Verdict"
