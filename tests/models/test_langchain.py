"""LangChain interop: a LangChain chat model as a ModelClient, LangChain tools as a
ToolProvider, LangChain messages in the messages reducer. Tested with LangChain's
own fake chat models and real ``@tool`` tools."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.tools import ToolException, tool

from hive_core import DefinitionError
from hive_core.models import (
    REMOVE_ALL_ID,
    ChatMessage,
    ChatRequest,
    Final,
    LangChainError,
    LangChainModelClient,
    LangChainTools,
    ModelTimeoutError,
    Token,
    ToolArgumentsInvalidError,
    ToolCall,
    ToolLoopConfig,
    UnknownToolError,
    Usage,
    messages_reducer,
    run_tool_loop,
)
from hive_core.models._langchain_messages import (
    from_langchain_message,
    to_langchain_message,
)
from hive_dsl import AgentState, tool_calling_agent


class ToolCallingFake(FakeMessagesListChatModel):
    """LangChain's list fake plus the ``bind_tools`` its fakes lack (as LangGraph's
    own tests do): it records the tools it was bound with."""

    bound: ClassVar[list[Sequence[Any]]] = []
    seen: ClassVar[list[list[BaseMessage]]] = []

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        self.bound.append(tools)
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


class ChunkedToolCalls(GenericFakeChatModel):
    """Streams a tool call as argument fragments, as real providers do."""

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        yield ChatGenerationChunk(message=AIMessageChunk(content="Let me "))
        yield ChatGenerationChunk(message=AIMessageChunk(content="add."))
        for i, part in enumerate(['{"a": 2', ', "b": 3}']):
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "index": 0,
                            "id": "c1" if i == 0 else None,
                            "name": "add" if i == 0 else None,
                            "args": part,
                        }
                    ],
                )
            )


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def shout(text: str) -> str:
    """Say it louder."""
    return text.upper()


@tool
def broken(x: str) -> str:
    """Always fails with a ToolException."""
    raise ToolException(f"cannot handle {x}")


@tool
def forgiving(x: str) -> str:
    """Fails, but LangChain turns the failure into text."""
    raise ToolException(f"bad {x}")


forgiving.handle_tool_error = True


def ask_add(call_id: str = "c1") -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"id": call_id, "name": "add", "args": {"a": 2, "b": 3}}],
        usage_metadata={"input_tokens": 11, "output_tokens": 5, "total_tokens": 16},
    )


def request(*messages: ChatMessage, tools: bool = True) -> ChatRequest:
    defs = LangChainTools([add, shout]).definitions() if tools else ()
    return ChatRequest(
        model="m", messages=messages or (ChatMessage.user("u1", "2 + 3?"),), tools=defs
    )


async def collect(client: LangChainModelClient, req: ChatRequest) -> list[Any]:
    return [c async for c in client.stream(req)]


def test_importing_hive_models_does_not_import_langchain() -> None:
    code = (
        "import sys, hive_core.models; "
        "assert 'langchain_core' not in sys.modules, 'langchain imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


class TestMessages:
    @pytest.mark.parametrize(
        "msg",
        [
            ChatMessage.system("s1", "be nice"),
            ChatMessage.user("u1", "hi"),
            ChatMessage.assistant(
                "a1", "", (ToolCall(id="c1", name="add", arguments_json='{"a":1}'),)
            ),
            ChatMessage.assistant(
                "a2", "", (ToolCall(id="c2", name="add", arguments_json="{oops"),)
            ),
            ChatMessage.tool(ToolCall(id="c1", name="add", arguments_json="{}"), "3"),
        ],
    )
    def test_round_trip(self, msg: ChatMessage) -> None:
        assert from_langchain_message(to_langchain_message(msg)) == msg

    def test_the_reducer_takes_langchain_messages(self) -> None:
        # LangChain messages are message-likes the type alias cannot name
        lc: list[Any] = [
            SystemMessage("rules"),
            HumanMessage("2 + 3?", id="h1"),
            ask_add(),
            ToolMessage("5", tool_call_id="c1", name="add"),
        ]
        out = messages_reducer([], lc)
        assert [(m.role, m.content) for m in out] == [
            ("system", "rules"),
            ("user", "2 + 3?"),
            ("assistant", ""),
            ("tool", "5"),
        ]
        assert out[1].id == "h1"
        assert out[3].id == "tool:c1"
        assert out[2].tool_calls == (
            ToolCall(id="c1", name="add", arguments_json='{"a":2,"b":3}'),
        )
        remove: list[Any] = [RemoveMessage(id="h1")]
        assert messages_reducer(out, remove)[1].role == "assistant"
        remove_all: list[Any] = [RemoveMessage(id=REMOVE_ALL_ID), "new"]
        assert messages_reducer(out, remove_all)[0].content == ("new")


class TestModelClient:
    def test_complete_maps_tool_calls_usage_and_tools(self) -> None:
        fake = ToolCallingFake(responses=[ask_add()])
        fake.bound.clear()
        response = asyncio.run(LangChainModelClient(fake).complete(request()))
        assert response.message.role == "assistant"
        assert response.message.tool_calls == (
            ToolCall(id="c1", name="add", arguments_json='{"a":2,"b":3}'),
        )
        assert response.finish_reason == "tool_calls"
        assert response.usage == Usage(
            input_tokens=11, output_tokens=5, total_tokens=16
        )
        (bound,) = fake.bound
        assert [t["function"]["name"] for t in bound] == ["add", "shout"]
        assert bound[0]["function"]["parameters"]["required"] == ["a", "b"]

    def test_the_model_sees_the_conversation_role_by_role(self) -> None:
        fake = ToolCallingFake(responses=[AIMessage(content="5")])
        fake.seen.clear()
        call = ToolCall(id="c1", name="add", arguments_json='{"a":2,"b":3}')
        asyncio.run(
            LangChainModelClient(fake).complete(
                request(
                    ChatMessage.user("u1", "2 + 3?"),
                    ChatMessage.assistant("a1", "", (call,)),
                    ChatMessage.tool(call, "5"),
                )
            )
        )
        (seen,) = fake.seen
        assert [type(m).__name__ for m in seen] == [
            "HumanMessage",
            "AIMessage",
            "ToolMessage",
        ]
        assert isinstance(seen[2], ToolMessage) and seen[2].tool_call_id == "c1"

    def test_reply_ids_are_derived_not_random(self) -> None:
        def once() -> str:
            fake = GenericFakeChatModel(messages=iter(["hello"]))
            client = LangChainModelClient(fake)
            return asyncio.run(client.complete(request(tools=False))).message.id

        first = once()
        assert first == once()
        assert first.startswith("lc:")

    def test_stream_yields_tokens_then_one_final(self) -> None:
        fake = GenericFakeChatModel(messages=iter(["hello there world"]))
        chunks = asyncio.run(collect(LangChainModelClient(fake), request(tools=False)))
        assert chunks[:-1] == [
            Token("hello"),
            Token(" "),
            Token("there"),
            Token(" "),
            Token("world"),
        ]
        assert isinstance(chunks[-1], Final)
        assert chunks[-1].response.message.content == "hello there world"

    def test_stream_assembles_tool_call_fragments(self) -> None:
        fake = ChunkedToolCalls(messages=iter([]))
        client = LangChainModelClient(fake)
        chunks = asyncio.run(collect(client, request(tools=False)))
        assert [c.text for c in chunks if isinstance(c, Token)] == ["Let me ", "add."]
        final = chunks[-1].response
        assert final.message.content == "Let me add."
        assert final.message.tool_calls == (
            ToolCall(id="c1", name="add", arguments_json='{"a":2,"b":3}'),
        )

    def test_stream_of_a_model_without_streaming_is_one_token(self) -> None:
        fake = ToolCallingFake(responses=[AIMessage(content="all at once")])
        chunks = asyncio.run(collect(LangChainModelClient(fake), request()))
        assert chunks[0] == Token("all at once")
        assert chunks[1].response.message.content == "all at once"

    def test_tool_loop_with_langchain_model_and_tools(self) -> None:
        fake = ToolCallingFake(responses=[ask_add(), AIMessage(content="It is 5.")])
        result = asyncio.run(
            run_tool_loop(
                request(),
                LangChainModelClient(fake),
                LangChainTools([add, shout]),
                ToolLoopConfig(mode="stream"),
            )
        )
        assert [(m.role, m.content) for m in result.appended] == [
            ("assistant", ""),
            ("tool", "5"),
            ("assistant", "It is 5."),
        ]


class TestModelErrors:
    def test_a_model_without_bind_tools(self) -> None:
        client = LangChainModelClient(GenericFakeChatModel(messages=iter(["x"])))
        with pytest.raises(LangChainError) as info:
            asyncio.run(client.complete(request()))
        assert info.value.phase == "binding tools"
        assert "GenericFakeChatModel" in str(info.value)
        assert isinstance(info.value.__cause__, NotImplementedError)

    def test_a_failing_model_is_a_typed_error(self) -> None:
        client = LangChainModelClient(GenericFakeChatModel(messages=iter([])))
        with pytest.raises(LangChainError) as info:
            asyncio.run(client.complete(request(tools=False)))
        assert info.value.code == "langchain-error"
        assert info.value.phase == "invoking the model"
        with pytest.raises(LangChainError) as streamed:
            asyncio.run(collect(client, request(tools=False)))
        assert streamed.value.phase == "streaming"

    def test_a_timeout_is_model_timeout(self) -> None:
        class Slow(GenericFakeChatModel):
            def _generate(self, *args: Any, **kwargs: Any) -> Any:
                raise TimeoutError("provider timed out")

        client = LangChainModelClient(Slow(messages=iter([])))
        with pytest.raises(ModelTimeoutError) as info:
            asyncio.run(client.complete(request(tools=False)))
        assert isinstance(info.value.__cause__, TimeoutError)

    def test_only_chat_models_are_wrapped(self) -> None:
        with pytest.raises(DefinitionError, match="BaseChatModel, got str"):
            LangChainModelClient("gpt-4o")  # type: ignore[arg-type]


class TestTools:
    def test_definitions_come_from_the_tools_schema_sorted(self) -> None:
        defs = LangChainTools([shout, add]).definitions()
        assert [d.name for d in defs] == ["add", "shout"]
        assert defs[0].description == "Add two integers."
        assert defs[0].parameters_json_schema == (
            '{"properties":{"a":{"type":"integer"},"b":{"type":"integer"}},'
            '"required":["a","b"],"type":"object"}'
        )

    def test_invoke(self) -> None:
        tools = LangChainTools([add, shout])
        result = asyncio.run(
            tools.invoke(ToolCall(id="c1", name="add", arguments_json='{"a":2,"b":3}'))
        )
        assert (result.tool_call_id, result.content) == ("c1", "5")

    @pytest.mark.parametrize(
        ("args", "reason"),
        [
            ('{"a": "x", "b": 1}', "valid integer"),
            ("[1]", "not an object"),
            ("{", "not JSON"),
        ],
    )
    def test_bad_arguments(self, args: str, reason: str) -> None:
        tools = LangChainTools([add])
        with pytest.raises(ToolArgumentsInvalidError) as info:
            asyncio.run(
                tools.invoke(ToolCall(id="c1", name="add", arguments_json=args))
            )
        assert reason in info.value.reason
        assert (info.value.name, info.value.call_id) == ("add", "c1")

    def test_unknown_tool(self) -> None:
        with pytest.raises(UnknownToolError) as info:
            asyncio.run(
                LangChainTools([add]).invoke(
                    ToolCall(id="c1", name="sub", arguments_json="{}")
                )
            )
        assert info.value.available == ("add",)

    def test_tool_exception_is_typed_unless_the_tool_handles_it(self) -> None:
        tools = LangChainTools([broken, forgiving])
        with pytest.raises(LangChainError) as info:
            asyncio.run(
                tools.invoke(
                    ToolCall(id="c1", name="broken", arguments_json='{"x":"y"}')
                )
            )
        assert info.value.component == "tool `broken`"
        assert isinstance(info.value.__cause__, ToolException)
        handled = asyncio.run(
            tools.invoke(
                ToolCall(id="c2", name="forgiving", arguments_json='{"x":"y"}')
            )
        )
        assert handled.content == "bad y"

    def test_only_langchain_tools(self) -> None:
        with pytest.raises(DefinitionError, match="BaseTools, got function"):
            LangChainTools([lambda: 1])  # type: ignore[list-item]
        with pytest.raises(DefinitionError, match="given twice"):
            LangChainTools([add, add])


class TestPrebuiltAgent:
    def run(self, make_runtime: Any, traced: Any) -> Any:
        fake = ToolCallingFake(
            responses=[
                AIMessage(
                    content="",
                    tool_calls=[
                        {"id": "c2", "name": "shout", "args": {"text": "five"}},
                        {"id": "c1", "name": "add", "args": {"a": 2, "b": 3}},
                    ],
                ),
                AIMessage(content="2 + 3 is FIVE."),
            ]
        )
        graph = tool_calling_agent(model="fake", tools=LangChainTools([add, shout]))
        rt = make_runtime(graph, model=LangChainModelClient(fake))
        return traced(rt, "t", "What is 2 + 3? Shout it.")

    def test_finishes_with_the_answer(self, make_runtime: Any, traced: Any) -> None:
        outcome, events = self.run(make_runtime, traced)
        assert outcome.status == "finished"
        assert outcome.get(AgentState.final_answer) == "2 + 3 is FIVE."
        assert [(m.role, m.content) for m in outcome.get(AgentState.messages)] == [
            ("user", "What is 2 + 3? Shout it."),
            ("assistant", ""),
            ("tool", "5"),
            ("tool", "FIVE"),
            ("assistant", "2 + 3 is FIVE."),
        ]
        assert [e["text"] for e in events if e["kind"] == "model_token"] == [
            "2 + 3 is FIVE."
        ]

    def test_the_trace_is_deterministic(self, make_runtime: Any, traced: Any) -> None:
        first = self.run(make_runtime, traced)[1]
        assert first == self.run(make_runtime, traced)[1]
        assert [e["node"] for e in first if e["kind"] == "task_started"] == [
            "pre_model",
            "model",
            "tools",
            "tool_execute",
            "tool_execute",
            "pre_model",
            "model",
        ]
