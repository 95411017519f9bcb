"""The bounded model/tool loop follows its rules (docs/agents.md), edge case by edge case."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hive_core import InvalidRunOptionsError
from hive_core.events import (
    ModelInvocationFinished,
    ModelInvocationStarted,
    ModelToken,
    ToolInvocationFinished,
    ToolInvocationStarted,
)
from hive_core.models import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Final,
    ModelStreamInvalidError,
    ModelToolLoopLimitError,
    ScriptedModelClient,
    StreamChunk,
    Token,
    ToolCall,
    ToolLoopConfig,
    ToolRegistry,
    ToolRegistryMissingError,
    run_tool_loop,
)

REQUEST = ChatRequest(model="m", messages=(ChatMessage.user("u1", "hi"),))


def call(id: str, name: str, args: str = "{}") -> ToolCall:
    return ToolCall(id=id, name=name, arguments_json=args)


def asks(*calls: ToolCall, id: str = "a") -> ChatMessage:
    return ChatMessage.assistant(id, "", calls)


class ChunkClient:
    """Streams exactly the given chunks (to break the stream contract on purpose)."""

    def __init__(self, chunks: list[StreamChunk]) -> None:
        self.chunks = chunks

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        for chunk in self.chunks:
            yield chunk


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class TestHappyPath:
    def test_no_tool_calls_returns_after_one_call(self, recorder: Any) -> None:
        client = ScriptedModelClient(["hello"])
        result = run(run_tool_loop(REQUEST, client, None, ToolLoopConfig(), recorder))
        assert result.response.message.content == "hello"
        assert [m.content for m in result.appended] == ["hello"]
        assert result.model_invocations == 1
        assert recorder.events == [
            ModelInvocationStarted("m"),
            ModelInvocationFinished(),
        ]

    def test_tools_run_and_results_go_back_to_the_model(
        self, recorder: Any, registry: ToolRegistry
    ) -> None:
        client = ScriptedModelClient(
            [asks(call("c1", "add", '{"a": 1, "b": 2}')), "it is 3"]
        )
        result = run(
            run_tool_loop(REQUEST, client, registry, ToolLoopConfig(), recorder)
        )
        tool_msg = result.appended[1]
        assert (tool_msg.id, tool_msg.role, tool_msg.content) == (
            "tool:c1",
            "tool",
            "3",
        )
        assert (tool_msg.name, tool_msg.tool_call_id) == ("add", "c1")
        second = client.requests[1]
        assert [m.id for m in second.messages] == ["u1", "a", "tool:c1"]
        assert second.tools == REQUEST.tools
        assert recorder.kinds == [
            "model_invocation_started",
            "model_invocation_finished",
            "tool_invocation_started",
            "tool_invocation_finished",
            "model_invocation_started",
            "model_invocation_finished",
        ]
        assert recorder.events[3] == ToolInvocationFinished("add", True)

    def test_stream_mode_emits_tokens(self, recorder: Any) -> None:
        client = ScriptedModelClient(["one two three"])
        config = ToolLoopConfig(mode="stream")
        result = run(run_tool_loop(REQUEST, client, None, config, recorder))
        tokens = [e.text for e in recorder.events if isinstance(e, ModelToken)]
        assert tokens == ["one", " two", " three"]
        assert "".join(tokens) == result.response.message.content

    def test_assistant_ids_renumber_assistant_messages(
        self, registry: ToolRegistry
    ) -> None:
        client = ScriptedModelClient([asks(call("c1", "add", '{"a":1,"b":1}')), "2"])
        result = run(
            run_tool_loop(
                REQUEST,
                client,
                registry,
                ToolLoopConfig(),
                assistant_ids=lambda n: f"asst-{n}",
            )
        )
        assert [m.id for m in result.appended] == ["asst-0", "tool:c1", "asst-1"]
        assert client.requests[1].messages[1].id == "asst-0"


class TestLimits:
    @pytest.mark.parametrize("bad", [0, -1])
    def test_max_below_one_is_invalid_options(self, bad: int) -> None:
        with pytest.raises(InvalidRunOptionsError) as info:
            run(
                run_tool_loop(
                    REQUEST,
                    ScriptedModelClient([]),
                    None,
                    ToolLoopConfig(max_model_invocations=bad),
                )
            )
        assert info.value.option == "max_model_invocations"

    def test_reaching_the_max_after_tools_ran_is_a_hard_error(
        self, recorder: Any, registry: ToolRegistry
    ) -> None:
        """max = 1 and a reply with tool calls: the tools run, then the second
        iteration raises instead of calling the model again."""
        client = ScriptedModelClient([asks(call("c1", "add", '{"a":1,"b":2}'))])
        config = ToolLoopConfig(max_model_invocations=1)
        with pytest.raises(ModelToolLoopLimitError) as info:
            run(run_tool_loop(REQUEST, client, registry, config, recorder))
        assert info.value.max_model_invocations == 1
        assert info.value.code == "model-tool-loop-limit"
        assert len(client.requests) == 1
        assert recorder.kinds[-2:] == [
            "tool_invocation_started",
            "tool_invocation_finished",
        ]


class TestStreamValidation:
    @pytest.mark.parametrize(
        ("chunks", "reason"),
        [
            (
                [
                    Token("a"),
                    Final(ChatResponse(message=ChatMessage.assistant("x", "a"))),
                    Token("b"),
                ],
                "a token arrived after the final chunk",
            ),
            (
                [
                    Final(ChatResponse(message=ChatMessage.assistant("x", "a"))),
                    Final(ChatResponse(message=ChatMessage.assistant("x", "a"))),
                ],
                "a second final chunk arrived",
            ),
            ([Token("a"), Token("b")], "the stream ended without a final chunk"),
            ([], "the stream ended without a final chunk"),
        ],
        ids=["token-after-final", "second-final", "no-final", "empty"],
    )
    def test_invalid_streams_raise_and_still_finish_the_invocation(
        self, recorder: Any, chunks: list[StreamChunk], reason: str
    ) -> None:
        config = ToolLoopConfig(mode="stream")
        with pytest.raises(ModelStreamInvalidError) as info:
            run(run_tool_loop(REQUEST, ChunkClient(chunks), None, config, recorder))
        assert info.value.reason == reason
        assert info.value.model == "m"
        assert recorder.kinds[0] == "model_invocation_started"
        assert recorder.kinds[-1] == "model_invocation_finished"

    def test_a_failing_client_still_finishes_the_invocation(
        self, recorder: Any
    ) -> None:
        config = ToolLoopConfig(mode="complete")
        with pytest.raises(NotImplementedError):
            run(run_tool_loop(REQUEST, ChunkClient([]), None, config, recorder))
        assert recorder.kinds == [
            "model_invocation_started",
            "model_invocation_finished",
        ]


class TestTools:
    def test_a_failing_tool_reports_failure_and_reraises(
        self, recorder: Any, registry: ToolRegistry
    ) -> None:
        client = ScriptedModelClient(
            [
                asks(
                    call("c1", "add", '{"a":1,"b":2}'),
                    call("c2", "explode", '{"reason":"boom"}'),
                    call("c3", "add", '{"a":0,"b":0}'),
                )
            ]
        )
        with pytest.raises(RuntimeError, match="boom"):
            run(run_tool_loop(REQUEST, client, registry, ToolLoopConfig(), recorder))
        tool_events = [
            e
            for e in recorder.events
            if isinstance(e, ToolInvocationStarted | ToolInvocationFinished)
        ]
        assert tool_events == [
            ToolInvocationStarted("add"),
            ToolInvocationFinished("add", True),
            ToolInvocationStarted("explode"),
            ToolInvocationFinished("explode", False),
        ]

    def test_missing_registry_raises(self) -> None:
        client = ScriptedModelClient([asks(call("c1", "add"), call("c2", "lookup"))])
        with pytest.raises(ToolRegistryMissingError) as info:
            run(run_tool_loop(REQUEST, client, None, ToolLoopConfig()))
        assert info.value.tool_names == ("add", "lookup")

    @pytest.mark.parametrize(
        ("order", "expected"),
        [
            ("as_emitted", ["c9", "c2", "c1", "c3"]),
            ("by_name_then_id", ["c1", "c3", "c2", "c9"]),
        ],
    )
    def test_tool_order_modes(
        self, registry: ToolRegistry, order: Any, expected: list[str]
    ) -> None:
        calls = (
            call("c9", "lookup", '{"key":"z"}'),
            call("c2", "lookup", '{"key":"a"}'),
            call("c1", "add", '{"a":1,"b":1}'),
            call("c3", "add", '{"a":2,"b":2}'),
        )
        client = ScriptedModelClient([asks(*calls), "done"])
        result = run(
            run_tool_loop(REQUEST, client, registry, ToolLoopConfig(tool_order=order))
        )
        tool_ids = [m.tool_call_id for m in result.appended if m.role == "tool"]
        assert tool_ids == expected

    def test_by_name_then_id_breaks_ties_by_arguments(self) -> None:
        from hive_core.models import order_tool_calls

        calls = [call("c1", "t", '{"b":1}'), call("c1", "t", '{"a":1}')]
        ordered = order_tool_calls(calls, "by_name_then_id")
        assert [c.arguments_json for c in ordered] == ['{"a":1}', '{"b":1}']
