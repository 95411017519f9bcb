"""Fixtures for the viewer tests: a run with streamed model tokens, an interrupt
and a resume, saved as a ``.jsonl`` trace with debug payloads (so the store after
each step is known), and the graph that produced it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from hive_core import (
    CompiledGraph,
    Environment,
    GraphBuilder,
    InMemoryCheckpointStore,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.events import Event
from hive_core.models import ChatMessage, ChatRequest, ScriptedModelClient, call_model
from hive_core.testing import SequentialIds, save_trace


class V(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")


async def ask(inp: NodeInput) -> NodeOutput:
    client = ScriptedModelClient(["Hello there"])
    request = ChatRequest(model="tiny", messages=(ChatMessage.user("u", "hi"),))
    await call_model(request, client, "stream", inp.emit)
    return NodeOutput(writes=[Write(V.log, ["a"])])


def approve(inp: NodeInput) -> NodeOutput:
    if inp.resume is None:
        return NodeOutput(writes=[Write(V.log, ["b"])], interrupt="approve?")
    return NodeOutput(writes=[Write(V.log, ["approved"])])


def build() -> CompiledGraph:
    return (
        GraphBuilder(V, start=["ask"])
        .add_node("ask", ask)
        .add_node("approve", approve)
        .add_edge("ask", "approve")
        .compile()
    )


OPTIONS = RunOptions(debug_payloads=True, deterministic_token_streaming=True)


async def _events(rt: Runtime) -> list[Event]:
    first = [ev async for ev in rt.run("t", {}, OPTIONS).events]
    state = await rt.get_state("t")
    assert state is not None and state.interrupt is not None
    second = [
        ev async for ev in rt.resume("t", state.interrupt.id, "yes", OPTIONS).events
    ]
    return first + second


@pytest.fixture
def agent_graph() -> CompiledGraph:
    return build()


@pytest.fixture
def agent_trace() -> Callable[[Path], Path]:
    def write(path: Path) -> Path:
        rt = Runtime(
            build(),
            environment=Environment(),
            checkpoint_store=InMemoryCheckpointStore(),
            ids=SequentialIds(),
        )
        save_trace(path, asyncio.run(_events(rt)))
        return path

    return write
