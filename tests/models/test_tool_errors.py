"""Tool errors the model can see: the loop and the prebuilt agent answer a failed
call (the tool raised, invalid arguments, an unknown tool) with a tool message when
asked to, and the run goes on to the model's answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hive_core import DefinitionError, NodeError
from hive_core.events import ToolInvocationFinished, ToolInvocationStarted
from hive_core.models import (
    ChatMessage,
    ChatRequest,
    ScriptedModelClient,
    ToolArgumentsInvalidError,
    ToolCall,
    ToolLoopConfig,
    ToolRegistry,
    UnknownToolError,
    run_tool_loop,
    tool_error_message,
)
from hive_dsl import AgentState, tool_calling_agent

REQUEST = ChatRequest(model="m", messages=(ChatMessage.user("u1", "hi"),))


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(reason)


TOOLS = ToolRegistry([add, explode])


def call(id: str, name: str, args: str) -> ToolCall:
    return ToolCall(id=id, name=name, arguments_json=args)


BAD_CALLS = (
    call("c1", "explode", '{"reason":"boom"}'),  # the tool raises
    call("c2", "add", '{"a":"one","b":2}'),  # invalid arguments
    call("c3", "subtract", '{"a":1,"b":2}'),  # no such tool
    call("c4", "add", '{"a":1,"b":2}'),  # fine
)


def scripted() -> ScriptedModelClient:
    return ScriptedModelClient(
        [ChatMessage.assistant("a1", "", BAD_CALLS), "sorry, only 1 + 2 = 3 worked"]
    )


class TestLoop:
    def test_return_answers_each_failed_call_and_the_loop_finishes(self) -> None:
        client = scripted()
        events: list[Any] = []
        config = ToolLoopConfig(tool_errors="return")
        result = asyncio.run(
            run_tool_loop(REQUEST, client, TOOLS, config, events.append)
        )
        assert result.response.message.content == "sorry, only 1 + 2 = 3 worked"
        assert result.model_invocations == 2
        tool_msgs = [m for m in result.appended if m.role == "tool"]
        assert [m.tool_call_id for m in tool_msgs] == ["c1", "c2", "c3", "c4"]
        boom, invalid, unknown, fine = (m.content for m in tool_msgs)
        assert boom == (
            "Error: the call to tool `explode` failed with RuntimeError: boom\n"
            "Fix the call (tool name and arguments) and try again, or answer "
            "without it."
        )
        assert "ToolArgumentsInvalidError" in invalid and "`add`" in invalid
        assert "UnknownToolError: Unknown tool `subtract`" in unknown
        assert "`add`, `explode`" in unknown  # the model learns what exists
        assert fine == "3"
        # the model's second request carries the errors
        second = client.requests[1].messages
        assert [m.content for m in second if m.role == "tool"] == [
            boom,
            invalid,
            unknown,
            fine,
        ]
        tool_events = [
            e
            for e in events
            if isinstance(e, ToolInvocationStarted | ToolInvocationFinished)
        ]
        assert tool_events == [
            ToolInvocationStarted("explode"),
            ToolInvocationFinished("explode", False),
            ToolInvocationStarted("add"),
            ToolInvocationFinished("add", False),
            ToolInvocationStarted("subtract"),
            ToolInvocationFinished("subtract", False),
            ToolInvocationStarted("add"),
            ToolInvocationFinished("add", True),
        ]

    def test_raise_is_the_default_and_ends_the_loop(self) -> None:
        with pytest.raises(RuntimeError, match="boom"):
            asyncio.run(run_tool_loop(REQUEST, scripted(), TOOLS, ToolLoopConfig()))

    def test_a_handler_formats_the_text_and_can_reraise(self) -> None:
        seen: list[tuple[str, str]] = []

        def handler(c: ToolCall, error: Exception) -> str:
            seen.append((c.id, type(error).__name__))
            if isinstance(error, UnknownToolError):
                raise error  # this one ends the run
            return f"{c.name} failed"

        client = ScriptedModelClient(
            [
                ChatMessage.assistant("a1", "", BAD_CALLS[:2]),
                ChatMessage.assistant("a2", "", BAD_CALLS[2:3]),
            ]
        )
        config = ToolLoopConfig(tool_errors=handler)
        with pytest.raises(UnknownToolError):
            asyncio.run(run_tool_loop(REQUEST, client, TOOLS, config))
        assert seen == [
            ("c1", "RuntimeError"),
            ("c2", "ToolArgumentsInvalidError"),
            ("c3", "UnknownToolError"),
        ]
        second = client.requests[1].messages
        assert [m.content for m in second if m.role == "tool"] == [
            "explode failed",
            "add failed",
        ]

    def test_a_handler_returning_no_text_is_a_typed_error(self) -> None:
        config = ToolLoopConfig(tool_errors=lambda c, e: None)  # type: ignore[arg-type,return-value]
        with pytest.raises(DefinitionError, match="returned NoneType, not str"):
            asyncio.run(run_tool_loop(REQUEST, scripted(), TOOLS, config))

    @pytest.mark.parametrize("policy", ["ignore", True, None])
    def test_a_bad_policy_is_refused_when_declared(self, policy: Any) -> None:
        with pytest.raises(DefinitionError, match="is not a tool error policy"):
            ToolLoopConfig(tool_errors=policy)
        with pytest.raises(DefinitionError, match="tool_calling_agent"):
            tool_calling_agent(model="m", tools=TOOLS, tool_errors=policy)

    def test_default_message_is_deterministic(self) -> None:
        err = ToolArgumentsInvalidError("add", call_id="c2", reason="bad")
        c = BAD_CALLS[1]
        assert tool_error_message(c, err) == tool_error_message(c, err)
        assert "\n" in tool_error_message(c, err)  # error line, then the request


class TestAgent:
    def test_a_tool_error_reaches_the_model_and_the_run_finishes(
        self, make_runtime: Any, traced: Any
    ) -> None:
        client = scripted()
        graph = tool_calling_agent(model="m", tools=TOOLS, tool_errors="return")
        outcome, events = traced(make_runtime(graph, model=client), "t", "go")
        assert outcome.status == "finished"
        assert outcome.get(AgentState.final_answer) == "sorry, only 1 + 2 = 3 worked"
        second = client.requests[1].messages
        errors = [m.content for m in second if m.role == "tool"]
        # the agent runs calls sorted by (name, id): add c2, add c4, explode, subtract
        assert [m.tool_call_id for m in second if m.role == "tool"] == [
            "c2",
            "c4",
            "c1",
            "c3",
        ]
        assert errors[1] == "3"
        assert errors[2].startswith("Error: the call to tool `explode` failed")
        assert "Unknown tool `subtract`" in errors[3]
        finished = [e for e in events if e["kind"] == "tool_invocation_finished"]
        assert [(e["name"], e["success"]) for e in finished] == [
            ("add", False),
            ("add", True),
            ("explode", False),
            ("subtract", False),
        ]
        assert events[-1]["kind"] == "run_finished"

    def test_by_default_a_tool_error_fails_the_run(self, make_runtime: Any) -> None:
        graph = tool_calling_agent(model="m", tools=TOOLS)
        with pytest.raises(NodeError) as info:
            make_runtime(graph, model=scripted()).run_sync("t", "go")
        assert info.value.node_id == "tool_execute"
        assert isinstance(info.value.__cause__, ToolArgumentsInvalidError)
