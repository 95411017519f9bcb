"""Stream modes with ``subgraphs=True``: a child's tokens, custom data and (when
its trace carries them) updates come through the parent tagged with the child's
node, task and step and the subgraph node's ``namespace``
(``docs/guides/streaming.md#subgraphs``)."""

from __future__ import annotations

import asyncio

from hive_core import (
    NodeInput,
    RunOptions,
    Runtime,
    Schema,
    StreamPart,
    channel,
    project_stream,
)
from hive_core.events import CustomEvent, Event, ModelToken
from hive_dsl import Chain, Effects, Subgraph, Workflow, Write


class Child(Schema):
    text = channel(str, initial=lambda: "")


class Parent(Schema):
    text = channel(str, initial=lambda: "")
    done = channel(bool, initial=lambda: False)


def parent(child_options: RunOptions | None = None) -> Runtime:
    child = Workflow(Child, name="writer")

    @child.node(start=True)
    def draft(ctx: NodeInput) -> Effects:
        ctx.emit(ModelToken("hel"))
        ctx.emit(CustomEvent({"progress": 0.5}))
        return Effects(Write(Child.text, "hello"))

    wf = Workflow(Parent)
    sub = wf.node(Subgraph(child, options=child_options), node_id="write", start=True)

    @wf.node
    def finish(ctx: NodeInput) -> Effects:
        ctx.emit(ModelToken("ok"))
        return Effects(Write(Parent.done, True))

    Chain(wf, sub, finish)
    return Runtime(wf.compile())


def test_child_tokens_and_custom_data_carry_the_namespace() -> None:
    parts = list(
        parent().stream_sync("t", modes=["messages", "custom"], subgraphs=True)
    )
    child = [p for p in parts if p.namespace]
    assert [(p.mode, p.data, p.node, p.step, p.namespace) for p in child] == [
        ("messages", {"text": "hel", "metadata": {}}, "draft", 0, ("write",)),
        ("custom", {"progress": 0.5}, "draft", 0, ("write",)),
    ]
    assert all(p.task_id for p in child)  # the child's task, not the parent's
    root = [p for p in parts if not p.namespace]
    assert [(p.mode, p.data["text"], p.node) for p in root] == [
        ("messages", "ok", "finish")
    ]


def test_without_the_flag_only_the_root_streams() -> None:
    parts = list(parent().stream_sync("t", modes=["messages", "custom"]))
    assert [(p.mode, p.node, p.namespace) for p in parts] == [
        ("messages", "finish", ())
    ]


def test_child_updates_when_its_trace_carries_them_and_async_equals_sync() -> None:
    runtime = parent(RunOptions(stream_modes=("updates",)))
    parts = list(runtime.stream_sync("a", modes="updates", subgraphs=True))
    assert [(p.data, p.namespace) for p in parts] == [
        ({"draft": {"text": "hello"}}, ("write",)),
        ({"write": {"text": "hello"}}, ()),
        ({"finish": {"done": True}}, ()),
    ]

    async def collect() -> list[StreamPart]:
        stream = runtime.stream("b", modes="updates", subgraphs=True)
        return [p async for p in stream]

    again = asyncio.run(collect())
    assert [(p.data, p.namespace) for p in again] == [
        (p.data, p.namespace) for p in parts
    ]


def test_projection_of_recorded_events_gives_the_same_parts() -> None:
    runtime = parent()

    async def record() -> list[Event]:
        handle = runtime.run("t")
        return [ev async for ev in handle.events]

    events = asyncio.run(record())
    projected = list(project_stream(events, ["messages", "custom"], subgraphs=True))
    streamed = list(
        parent().stream_sync("t", modes=["messages", "custom"], subgraphs=True)
    )
    assert [(p.mode, p.data, p.node, p.namespace) for p in projected] == [
        (p.mode, p.data, p.node, p.namespace) for p in streamed
    ]
