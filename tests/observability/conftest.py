"""A small workload graph the observability tests share: an async model call, a
flaky task that succeeds on its second attempt, a sync fan-out and a join."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from hive_core import (
    GraphBuilder,
    NodeInput,
    NodeOutput,
    RetryPolicy,
    Schema,
    Write,
    channel,
    reducers,
)
from hive_core.models import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ScriptedModelClient,
    Usage,
    call_model,
)


class W(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    answer = channel(str)


def reply(request: ChatRequest) -> ChatResponse:
    return ChatResponse(
        message=ChatMessage.assistant("a", "ok"),
        finish_reason="stop",
        usage=Usage(input_tokens=7, output_tokens=3, total_tokens=10),
    )


class Provider(ScriptedModelClient):
    provider = "scripted"


def workload(gate: asyncio.Event | None = None) -> Any:
    """ask (async, one model call) → flaky (fails once, retried) and fan (sync)."""
    seen: dict[str, int] = {}

    async def ask(inp: NodeInput) -> NodeOutput:
        if gate is not None:
            await gate.wait()
        client = Provider([reply])
        request = ChatRequest(model="m", messages=(ChatMessage.user("u", "hi"),))
        response = await call_model(request, client, "complete", inp.emit)
        return NodeOutput(writes=[Write(W.answer, response.message.content)])

    async def flaky(inp: NodeInput) -> NodeOutput:
        n = seen[inp.thread_id] = seen.get(inp.thread_id, 0) + 1
        if n == 1:
            raise RuntimeError("first try fails")
        return NodeOutput(writes=[Write(W.log, ["flaky"])])

    def fan(inp: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(W.log, ["fan"])])

    return (
        GraphBuilder(W, start=["ask"])
        .add_node("ask", ask)
        .add_node("flaky", flaky, retry_policy=RetryPolicy(max_attempts=2))
        .add_node("fan", fan)
        .add_edge("ask", "flaky")
        .add_edge("ask", "fan")
        .compile()
    )


@pytest.fixture
def make_workload() -> Callable[..., Any]:
    return workload
