"""The plugin used on this repository's own graphs: each test pins a trace as a
readable ``__snapshots__/test_golden_traces/<test>.trace`` file, covering every kind
of header (error, out of steps, projected output, interrupt) and stream events."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec
import pytest
from syrupy.assertion import SnapshotAssertion

from hive_core import (
    END,
    GraphBuilder,
    Next,
    NodeInput,
    NodeOutput,
    RetryPolicy,
    RunOptions,
    Schema,
    StoreView,
    Write,
    channel,
    reducers,
)
from hive_core.events import (
    ModelInvocationFinished,
    ModelInvocationStarted,
    ModelToken,
    ToolInvocationFinished,
    ToolInvocationStarted,
)
from hive_core.testing import Tracer
from hive_core.testing._plugin import _explain
from hive_core.testing._snapshot import HiveTraceExtension


class Chat(Schema):
    prompt = channel(str)
    transcript = channel(list[str], reducer=reducers.append, update="multi")
    rounds = channel(int)


async def answer(node: NodeInput) -> NodeOutput:
    node.emit(ModelInvocationStarted("tiny-model"))
    for token in ("Low", " tide", " at", " 6pm"):
        await asyncio.sleep(0)
        node.emit(ModelToken(token))
    node.emit(ModelInvocationFinished())
    return NodeOutput(writes=[Write(Chat.transcript, ["Low tide at 6pm"])])


async def look_up(node: NodeInput) -> NodeOutput:
    node.emit(ToolInvocationStarted("tide table", metadata={"port": "Brest"}))
    node.emit(ToolInvocationFinished("tide table", False))
    node.emit_debug("cache miss", {"key": "brest/today"})
    return NodeOutput(writes=[Write(Chat.transcript, ["table: unavailable"])])


def test_stream_events_in_task_order(
    hive_trace: Tracer, snapshot: SnapshotAssertion
) -> None:
    graph = (
        GraphBuilder(Chat, start=["answer", "look_up"])
        .add_node("answer", answer)
        .add_node("look_up", look_up)
        .compile()
    )
    assert hive_trace(graph, {Chat.prompt: "When is low tide?"}) == snapshot


def test_a_failed_run_captured(hive_trace: Tracer, snapshot: SnapshotAssertion) -> None:
    def parse(node: NodeInput) -> NodeOutput:
        raise ValueError(f"cannot parse {node.store.get(Chat.prompt)!r}")

    graph = (
        GraphBuilder(Chat, start=["parse"])
        .add_node("parse", parse, retry_policy=RetryPolicy(max_attempts=2))
        .compile()
    )
    trace = hive_trace(graph, {Chat.prompt: "??"}, capture_errors=True)
    assert trace == snapshot


def test_out_of_steps_with_a_projected_output(
    hive_trace: Tracer, snapshot: SnapshotAssertion
) -> None:
    def again(node: NodeInput) -> NodeOutput:
        rounds = node.store.get(Chat.rounds) + 1
        return NodeOutput(
            writes=[Write(Chat.rounds, rounds), Write(Chat.transcript, [f"r{rounds}"])]
        )

    def route(view: StoreView) -> Next | Sequence[str]:
        return END if view.get(Chat.rounds) >= 10 else ["again"]

    graph = (
        GraphBuilder(Chat, start=["again"])
        .add_node("again", again)
        .add_router("again", route)
        .set_output_projection([Chat.rounds])
        .compile()
    )
    trace = hive_trace(graph, options=RunOptions(max_steps=3))
    assert trace.status == "out_of_steps"
    assert trace == snapshot


class Ticket(msgspec.Struct, frozen=True):
    title: str
    labels: list[str]


class Review(Schema):
    tickets = channel(list[Ticket], reducer=reducers.append, update="multi")


def test_long_values_and_an_interrupt_payload(
    hive_trace: Tracer, snapshot: SnapshotAssertion
) -> None:
    def triage(node: NodeInput) -> NodeOutput:
        tickets = [
            Ticket(title=f"Tide table wrong for port {n}", labels=["data", "p2"])
            for n in range(3)
        ]
        return NodeOutput(
            writes=[Write(Review.tickets, tickets)],
            interrupt=Ticket(title="Merge duplicates?", labels=["question"]),
        )

    graph = GraphBuilder(Review, start=["triage"]).add_node("triage", triage).compile()
    assert hive_trace(graph) == snapshot(name="triaged")


class TestExplanations:
    def test_two_traces_are_explained_by_their_first_divergence(
        self, hive_trace: Tracer, pytestconfig: pytest.Config
    ) -> None:
        def one(node: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(Chat.rounds, 1)])

        graph = GraphBuilder(Chat, start=["one"]).add_node("one", one).compile()
        a = hive_trace(graph)
        b = hive_trace(graph, {Chat.prompt: "x"}, thread_id="other")
        lines = _explain(pytestconfig, "==", a, b)
        assert lines is not None
        assert lines[:2] == [
            "Trace == Trace",
            "first divergence at event 0 (run level, run_started): field "
            "`thread_id` expected test, got other",
        ]
        assert _explain(pytestconfig, "==", a, a) is None
        assert _explain(pytestconfig, "!=", a, b) is None
        assert _explain(pytestconfig, "==", a, 1) is None

    def test_the_extension_only_snapshots_traces(self) -> None:
        with pytest.raises(
            TypeError, match=r"snapshots hive_core\.testing\.Trace values"
        ):
            HiveTraceExtension().serialize({"not": "a trace"})
