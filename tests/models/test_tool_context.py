"""Tools that see the run's environment: a ``ToolContext`` or ``Environment``
parameter, found at registration, left out of the schema, filled from the
environment the provider is bound to."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from hive_core import Environment, Runtime, Schema, channel
from hive_core.memory import InMemoryMemoryStore
from hive_core.models import (
    Cassette,
    ChatMessage,
    ScriptedModelClient,
    ToolCall,
    ToolContext,
    ToolContextMissingError,
    ToolDefinition,
    ToolLoopConfig,
    ToolRegistry,
    ToolResult,
    bind_environment,
    messages_reducer,
)
from hive_dsl import AgentState, ModelTurn, Workflow, tool_calling_agent

seen: list[ToolContext] = []


def note(text: str, ctx: ToolContext) -> str:
    """Note something down."""
    seen.append(ctx)
    return f"noted {text}"


async def recall(query: str, ctx: ToolContext) -> list[str]:
    """Recall memories about the user."""
    store = ctx.environment.memory_store
    assert isinstance(store, InMemoryMemoryStore)
    hits = await store.recall(("user",), query)
    return [h.item.text for h in hits]


def clock_now(env: Environment, /) -> float:
    """The run's clock."""
    return env.clock.now()


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _clear_seen() -> None:
    seen.clear()


class TestRegistration:
    def test_context_parameters_are_not_in_the_schema(self) -> None:
        tools = ToolRegistry([note, clock_now, add])
        schemas = {
            d.name: json.loads(d.parameters_json_schema) for d in tools.definitions()
        }
        assert schemas["note"]["properties"] == {"text": {"type": "string"}}
        assert schemas["note"]["required"] == ["text"]
        assert schemas["clock_now"]["properties"] == {}
        tool = tools.get("note")
        assert tool is not None and tool.injected == (("ctx", "context"),)
        assert tools.get("add").injected == ()  # type: ignore[union-attr]

    def test_a_model_cannot_pass_the_context(self) -> None:
        bound = bind_environment(ToolRegistry([note]), Environment())
        with pytest.raises(Exception, match="unknown field `ctx`"):
            run(
                bound.invoke(
                    ToolCall(
                        id="c", name="note", arguments_json='{"text": "a", "ctx": 1}'
                    )
                )
            )


class TestInvocation:
    def test_bound_tools_receive_the_environment_and_the_call(self) -> None:
        env = Environment(extras={"user": "42"})
        bound = bind_environment(ToolRegistry([note]), env)
        call = ToolCall(id="c1", name="note", arguments_json='{"text": "milk"}')
        result = run(bound.invoke(call))
        assert result == ToolResult(tool_call_id="c1", content="noted milk")
        assert seen == [ToolContext(environment=env, call=call)]

    def test_environment_parameter_positional_only(self) -> None:
        from hive_core.testing import FakeClock

        env = Environment(clock=FakeClock(time=12.5))
        result = run(
            ToolRegistry([clock_now]).invoke(
                ToolCall(id="c", name="clock_now", arguments_json="{}"),
                environment=env,
            )
        )
        assert result.content == "12.5"  # type: ignore[attr-defined]

    def test_unbound_invocation_is_a_typed_error(self) -> None:
        with pytest.raises(ToolContextMissingError) as info:
            run(
                ToolRegistry([note]).invoke(
                    ToolCall(id="c9", name="note", arguments_json='{"text": "x"}')
                )
            )
        assert (info.value.name, info.value.call_id) == ("note", "c9")
        assert info.value.code == "tool-context-missing"

    def test_plain_tools_work_bound_or_not(self) -> None:
        tools = ToolRegistry([add])
        call = ToolCall(id="c", name="add", arguments_json='{"a": 1, "b": 2}')
        assert run(tools.invoke(call)) == run(
            bind_environment(tools, Environment()).invoke(call)
        )

    def test_the_bound_view_sees_tools_added_later(self) -> None:
        tools = ToolRegistry()
        bound = bind_environment(tools, Environment())
        tools.add(add)
        assert [d.name for d in bound.definitions()] == ["add"]

    def test_other_providers_are_returned_unchanged(self) -> None:
        class Plain:
            def definitions(self) -> tuple[ToolDefinition, ...]:
                return ()

            async def invoke(self, call: ToolCall) -> ToolResult:
                return ToolResult(tool_call_id=call.id, content="")

        plain = Plain()
        assert bind_environment(plain, Environment()) is plain


def _memory() -> InMemoryMemoryStore:
    store = InMemoryMemoryStore()
    asyncio.run(store.remember(("user",), "pet", "Has a kitten called Miso."))
    return store


RECALL_CALL = ToolCall(id="r1", name="recall", arguments_json='{"query": "kitten"}')


def test_tool_calling_agent_binds_the_run_environment() -> None:
    client = ScriptedModelClient(
        [ChatMessage.assistant("x", "", (RECALL_CALL,)), "Your kitten is Miso."]
    )
    graph = tool_calling_agent(model="m", tools=[recall])
    env = Environment(model=client, memory_store=_memory())
    outcome = Runtime(graph, environment=env).run_sync("t1", "What is my pet?")
    tool_messages = [m for m in outcome.get(AgentState.messages) if m.role == "tool"]
    assert [m.content for m in tool_messages] == ['["Has a kitten called Miso."]']
    assert outcome.get(AgentState.final_answer) == "Your kitten is Miso."


def test_model_turn_agent_loop_binds_the_run_environment() -> None:
    class Chat(Schema):
        messages = channel(list[ChatMessage], reducer=messages_reducer, update="multi")
        answer = channel(str)

    wf = Workflow(Chat)
    (
        ModelTurn("agent", model="m", messages=Chat.messages)
        .tools([recall])
        .agent_loop(ToolLoopConfig(max_model_invocations=3))
        .writes(to=Chat.answer)
        .register(wf, start=True)
    )
    client = ScriptedModelClient(
        [ChatMessage.assistant("x", "", (RECALL_CALL,)), "Miso"]
    )
    env = Environment(model=client, memory_store=_memory())
    outcome = Runtime(wf.compile(), environment=env).run_sync(
        "t1", {Chat.messages: [ChatMessage.user("u1", "pet?")]}
    )
    assert outcome.get(Chat.answer) == "Miso"
    tool_request = client.requests[1].messages[-1]
    assert tool_request.content == '["Has a kitten called Miso."]'


def test_cassettes_record_bound_tools_and_replay_them(tmp_path: Path) -> None:
    path = tmp_path / "tape.json"
    env = Environment(memory_store=_memory())
    with Cassette(path, mode="record") as tape:
        recorded = run(
            bind_environment(tape.tools(ToolRegistry([recall])), env).invoke(
                RECALL_CALL
            )
        )
    replayed = run(bind_environment(Cassette(path).tools(), env).invoke(RECALL_CALL))
    assert replayed == recorded
    assert recorded.content == '["Has a kitten called Miso."]'  # type: ignore[attr-defined]
