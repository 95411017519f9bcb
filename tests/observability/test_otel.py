"""OpenTelemetry spans of an agent run (model and tool calls included), exported
with the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

from hive_core import Environment, InMemoryCheckpointStore, Runtime
from hive_core.models import (
    ChatMessage,
    ChatResponse,
    ScriptedModelClient,
    ToolCall,
    ToolRegistry,
    Usage,
)
from hive_core.observability import OpenTelemetryObserver, combine
from hive_core.testing import SequentialIds
from hive_dsl import tool_calling_agent


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Scripted(ScriptedModelClient):
    provider = "scripted"


def run_agent(capture_payloads: bool = False) -> tuple[list[ReadableSpan], Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = Scripted(
        [
            ChatMessage.assistant(
                "a0",
                "",
                (ToolCall(id="c1", name="add", arguments_json='{"a":1,"b":2}'),),
            ),
            ChatResponse(
                message=ChatMessage.assistant("a1", "It is 3."),
                finish_reason="stop",
                usage=Usage(input_tokens=11, output_tokens=4, total_tokens=15),
            ),
        ]
    )
    observer = OpenTelemetryObserver(provider, capture_payloads=capture_payloads)
    rt = Runtime(
        tool_calling_agent(model="tiny", tools=ToolRegistry([add])),
        environment=Environment(model=client, observer=combine(observer, None)),
        checkpoint_store=InMemoryCheckpointStore(),
        ids=SequentialIds(),
    )
    outcome = rt.run_sync("t", "What is 1 + 2?")
    return list(exporter.get_finished_spans()), outcome


def attrs_of(span: ReadableSpan) -> Mapping[str, Any]:
    """A finished span's attributes (the SDK types them as optional)."""
    return span.attributes or {}


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    pid = parent.context.span_id
    return [s for s in spans if s.parent is not None and s.parent.span_id == pid]


def test_span_tree_of_an_agent_run() -> None:
    spans, outcome = run_agent()
    assert outcome.status == "finished"
    (run,) = [s for s in spans if s.name == "hive.run"]
    assert run.parent is None
    assert attrs_of(run)["hive.thread_id"] == "t"
    assert attrs_of(run)["hive.run.status"] == "finished"
    assert attrs_of(run)["hive.run_id"] == outcome.run_id
    steps = children(spans, run)
    assert [s.name for s in steps] == ["hive.step"] * len(steps)
    assert [attrs_of(s)["hive.step"] for s in steps] == list(range(len(steps)))
    tree = []
    for step in steps:
        for task in children(spans, step):
            calls = [c.name for c in children(spans, task)]
            tree.append((attrs_of(step)["hive.step"], task.name, calls))
    assert [(n, calls) for _, n, calls in tree] == [
        ("hive.task pre_model", []),
        ("hive.task model", ["chat tiny"]),
        ("hive.task tools", []),
        ("hive.task tool_execute", ["execute_tool add"]),
        ("hive.task pre_model", []),
        ("hive.task model", ["chat tiny"]),
    ]
    every = {s.context.trace_id for s in spans}
    assert len(every) == 1


def test_model_and_tool_span_attributes() -> None:
    spans, _ = run_agent()
    chats = [s for s in spans if s.name == "chat tiny"]
    assert len(chats) == 2
    for chat in chats:
        assert chat.kind is SpanKind.CLIENT
        assert attrs_of(chat)["gen_ai.operation.name"] == "chat"
        assert attrs_of(chat)["gen_ai.provider.name"] == "scripted"
        assert attrs_of(chat)["gen_ai.request.model"] == "tiny"
        assert "gen_ai.input.messages" not in attrs_of(chat)  # payloads are opt-in
    assert attrs_of(chats[0])["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert attrs_of(chats[1])["gen_ai.usage.input_tokens"] == 11
    assert attrs_of(chats[1])["gen_ai.usage.output_tokens"] == 4
    (tool,) = [s for s in spans if s.name == "execute_tool add"]
    assert dict(attrs_of(tool)) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": "c1",
    }
    tasks = [s for s in spans if s.name.startswith("hive.task ")]
    for task in tasks:
        assert set(attrs_of(task)) == {
            "hive.node",
            "hive.task.ordinal",
            "hive.task_id",
            "hive.task.attempts",
        }
        assert task.status.status_code is StatusCode.UNSET


def test_attributes_are_deterministic_across_runs() -> None:
    def shape(spans: list[ReadableSpan]) -> list[tuple[str, dict[str, Any]]]:
        return [(s.name, dict(attrs_of(s))) for s in spans]

    assert shape(run_agent()[0]) == shape(run_agent()[0])


def test_payloads_only_on_opt_in() -> None:
    spans, _ = run_agent(capture_payloads=True)
    first = next(s for s in spans if s.name == "chat tiny")
    assert '"What is 1 + 2?"' in attrs_of(first)["gen_ai.input.messages"]
    (tool,) = [s for s in spans if s.name == "execute_tool add"]
    assert attrs_of(tool)["gen_ai.tool.call.arguments"] == '{"a":1,"b":2}'
    assert attrs_of(tool)["gen_ai.tool.call.result"] == "3"


def test_a_failed_task_marks_its_task_step_and_run() -> None:
    from hive_core import GraphBuilder, NodeError, NodeInput, Schema, channel

    class S(Schema):
        x = channel(int)

    def boom(inp: NodeInput) -> None:
        raise ValueError("no")

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    g = GraphBuilder(S, start=["boom"]).add_node("boom", boom).compile()
    rt = Runtime(g, environment=Environment(observer=OpenTelemetryObserver(provider)))
    with pytest.raises(NodeError):
        rt.run_sync("t", {})
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"hive.run", "hive.step", "hive.task boom"}
    assert attrs_of(spans["hive.task boom"])["error.type"] == "ValueError"
    assert attrs_of(spans["hive.run"])["error.type"] == "NodeError"
    assert attrs_of(spans["hive.run"])["hive.run.status"] == "error"
    for span in spans.values():
        assert span.status.status_code is StatusCode.ERROR


def test_combined_observers_both_see_the_run() -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client import generate_latest

    from hive_core.observability import PrometheusMetrics

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = PrometheusMetrics()
    both = combine(metrics, None, OpenTelemetryObserver(provider))
    assert both is not None and both is not metrics
    assert combine(None, None) is None
    client = Scripted(
        [
            ChatMessage.assistant(
                "a0",
                "",
                (ToolCall(id="c1", name="add", arguments_json='{"a":1,"b":2}'),),
            ),
            "3",
        ]
    )
    rt = Runtime(
        tool_calling_agent(model="tiny", tools=ToolRegistry([add])),
        environment=Environment(model=client, observer=both),
        checkpoint_store=InMemoryCheckpointStore(),
        ids=SequentialIds(),
    )
    assert rt.run_sync("t", "1 + 2?").status == "finished"
    spans = exporter.get_finished_spans()
    assert sum(s.name == "chat tiny" for s in spans) == 2
    assert sum(s.name == "execute_tool add" for s in spans) == 1
    text = generate_latest(metrics.registry).decode()
    assert 'hive_model_calls_total{outcome="ok",provider="scripted"} 2.0' in text
    assert 'hive_tool_calls_total{outcome="ok",tool="add"} 1.0' in text
    steps = sum(s.name == "hive.step" for s in spans)
    assert f"hive_step_duration_seconds_count {float(steps)}" in text
