"""The prebuilt tool-calling agent: graph shape, approval paths, compaction, inputs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hive_core import CheckpointStoreMissingError, NodeError
from hive_core.models import (
    ChatMessage,
    Compaction,
    MissingTaskLocalValueError,
    ScriptedModelClient,
    ToolCall,
    ToolRegistry,
    ToolRegistryMissingError,
)
from hive_dsl._agents import (
    REJECTED_SYSTEM_MESSAGE,
    REJECTED_TOOL_MESSAGE,
    AgentState,
    AllowList,
    ToolApproval,
    ToolApprovalRequired,
    needs_approval,
    tool_calling_agent,
)
from hive_dsl.testing import node_input

S = AgentState


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def delete_file(path: str) -> str:
    """Delete a file (dangerous)."""
    return f"deleted {path}"


TOOLS = ToolRegistry([add, delete_file])


def call(id: str, name: str = "add", args: str = '{"a":1,"b":2}') -> ToolCall:
    return ToolCall(id=id, name=name, arguments_json=args)


def asks(*calls: ToolCall) -> ChatMessage:
    return ChatMessage.assistant("x", "", calls)


def roles(outcome: Any) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in outcome.get(S.messages)]


class TestGraph:
    def test_shape(self) -> None:
        graph = tool_calling_agent(model="m", tools=TOOLS)
        assert graph.start == ("pre_model",)
        assert graph.to_mermaid() == "\n".join(
            [
                "flowchart LR",
                '  node_0["model"]',
                '  node_1["pre_model"]',
                '  node_2["tool_execute"]',
                '  node_3["tools"]',
                "  classDef router fill:#fff7ed,stroke:#c2410c,stroke-width:1px;",
                "  class node_0 router",
                "  node_1 --> node_0",
                "  node_2 --> node_1",
            ]
        )

    def test_plain_answer_needs_one_model_call(
        self, make_runtime: Any, traced: Any
    ) -> None:
        client = ScriptedModelClient(["Paris."])
        rt = make_runtime(tool_calling_agent(model="m", tools=TOOLS), model=client)
        outcome, events = traced(rt, "t", "Capital of France?")
        assert outcome.status == "finished"
        assert outcome.get(S.final_answer) == "Paris."
        assert roles(outcome) == [
            ("user", "Capital of France?"),
            ("assistant", "Paris."),
        ]
        assert [e["node"] for e in events if e["kind"] == "task_started"] == [
            "pre_model",
            "model",
        ]
        assert [t.name for t in client.requests[0].tools] == ["add", "delete_file"]

    def test_tool_calls_run_in_name_then_id_order(
        self, make_runtime: Any, traced: Any
    ) -> None:
        client = ScriptedModelClient(
            [
                asks(
                    call("c2", "delete_file", '{"path":"/tmp/x"}'),
                    call("c9"),
                    call("c1"),
                ),
                "done",
            ]
        )
        rt = make_runtime(tool_calling_agent(model="m", tools=TOOLS), model=client)
        outcome, events = traced(rt, "t", "go")
        tool_msgs = [m for m in outcome.get(S.messages) if m.role == "tool"]
        assert [m.tool_call_id for m in tool_msgs] == ["c1", "c9", "c2"]
        execs = [
            e
            for e in events
            if e["kind"] == "task_started" and e["node"] == "tool_execute"
        ]
        assert [e["ordinal"] for e in execs] == [0, 1, 2]
        assert [e["node"] for e in events if e["kind"] == "task_started"][-2:] == [
            "pre_model",
            "model",
        ]
        second = client.requests[1]
        assert [m.role for m in second.messages] == [
            "user",
            "assistant",
            "tool",
            "tool",
            "tool",
        ]


class TestApproval:
    def graph(self, approval: Any = "always") -> Any:
        return tool_calling_agent(model="m", tools=TOOLS, approval=approval)

    def test_interrupts_with_the_sorted_pending_calls(self, make_runtime: Any) -> None:
        client = ScriptedModelClient([asks(call("b"), call("a"))])
        outcome = make_runtime(self.graph(), model=client).run_sync("t", "go")
        assert outcome.status == "interrupted"
        assert outcome.interrupt.node == "tools"
        assert outcome.interrupt.payload == ToolApprovalRequired(
            calls=(call("a"), call("b"))
        )

    def test_approved_calls_run(self, make_runtime: Any) -> None:
        client = ScriptedModelClient([asks(call("a")), "3"])
        rt = make_runtime(self.graph(), model=client)
        first = rt.run_sync("t", "go")
        final = rt.resume_sync("t", first.interrupt.id, ToolApproval(True))
        assert final.get(S.final_answer) == "3"
        assert roles(final)[2] == ("tool", "3")

    def test_rejected_calls_answer_rejected_and_go_back_to_the_model(
        self, make_runtime: Any, traced: Any
    ) -> None:
        client = ScriptedModelClient([asks(call("a")), "ok, I will not."])
        rt = make_runtime(self.graph(), model=client)
        first = rt.run_sync("t", "go")
        final, events = traced(
            rt, "t", resume=(first.interrupt.id, {"approved": False})
        )
        assert roles(final) == [
            ("user", "go"),
            ("assistant", ""),
            ("tool", REJECTED_TOOL_MESSAGE),
            ("system", REJECTED_SYSTEM_MESSAGE),
            ("assistant", "ok, I will not."),
        ]
        assert [e["node"] for e in events if e["kind"] == "task_started"] == [
            "tools",
            "pre_model",
            "model",
        ]
        assert final.get(S.pending_tool_calls) == []

    def test_allow_list(self, make_runtime: Any) -> None:
        graph = self.graph(AllowList(["add"]))
        safe = ScriptedModelClient([asks(call("a")), "3"])
        assert make_runtime(graph, model=safe).run_sync("t", "go").status == "finished"
        risky = ScriptedModelClient(
            [asks(call("a"), call("d", "delete_file", '{"path":"/"}'))]
        )
        outcome = make_runtime(graph, model=risky).run_sync("t", "go")
        assert outcome.status == "interrupted"
        assert [c.id for c in outcome.interrupt.payload.calls] == ["a", "d"]

    def test_interrupting_needs_a_checkpoint_store(self, make_runtime: Any) -> None:
        client = ScriptedModelClient([asks(call("a"))])
        with pytest.raises(CheckpointStoreMissingError):
            make_runtime(self.graph(), model=client, store=False).run_sync("t", "go")

    def test_policy_rules(self) -> None:
        calls = [call("a"), call("d", "delete_file")]
        assert not needs_approval("never", calls)
        assert needs_approval("always", calls)
        assert not needs_approval("always", [])
        assert needs_approval(AllowList(["add"]), calls)
        assert not needs_approval(AllowList(["add", "delete_file"]), calls)
        with pytest.raises(TypeError, match="list of tool names"):
            AllowList("add")
        with pytest.raises(ValueError, match="approval='sometimes'"):
            tool_calling_agent(model="m", approval="sometimes")  # type: ignore[arg-type]

    def test_same_run_same_trace(self, make_runtime: Any, traced: Any) -> None:
        def once() -> list[Any]:
            client = ScriptedModelClient([asks(call("b"), call("a")), "done"])
            rt = make_runtime(self.graph(), model=client)
            first, events = traced(rt, "t", "go")
            _, more = traced(rt, "t", resume=(first.interrupt.id, ToolApproval(True)))
            return [*events, *more]

        assert once() == once()


class TestContext:
    def test_system_prompt_is_sent_not_stored(self, make_runtime: Any) -> None:
        client = ScriptedModelClient(["hi"])
        graph = tool_calling_agent(model="m", system_prompt="Be terse.")
        outcome = make_runtime(graph, model=client).run_sync("t", "hello")
        assert client.requests[0].messages[0] == ChatMessage.system(
            "system:prompt", "Be terse."
        )
        assert [m.role for m in outcome.get(S.messages)] == ["user", "assistant"]

    def test_compaction_trims_what_the_model_sees(self, make_runtime: Any) -> None:
        client = ScriptedModelClient(["ok"])
        graph = tool_calling_agent(
            model="m",
            compaction=Compaction(max_tokens=2, keep_last=1, count_tokens=lambda m: 1),
        )
        history = [ChatMessage.user(f"u{i}", f"message {i}") for i in range(5)]
        outcome = make_runtime(graph, model=client).run_sync("t", history)
        assert [m.id for m in client.requests[0].messages] == ["u3", "u4"]
        assert len(outcome.get(S.messages)) == 6

    def test_input_forms(self, make_runtime: Any) -> None:
        client = ScriptedModelClient(["a", "b"])
        rt = make_runtime(tool_calling_agent(model="m", mode="complete"), model=client)
        rt.run_sync("t", ["first", ChatMessage.user("mine", "second")])
        outcome = rt.run_sync("t", "third")
        msgs = outcome.get(S.messages)
        assert [m.content for m in msgs] == ["first", "second", "a", "third", "b"]
        assert msgs[0].id.startswith("msg:") and msgs[0].id != msgs[3].id
        with pytest.raises(TypeError, match="str or ChatMessage"):
            rt.run_sync("t2", [42])

    def test_tools_from_the_environment(self, make_runtime: Any) -> None:
        client = ScriptedModelClient([asks(call("a")), "3"])
        rt = make_runtime(tool_calling_agent(model="m"), model=client, tools=TOOLS)
        assert rt.run_sync("t", "go").get(S.final_answer) == "3"

    def test_tool_call_without_any_tools_fails(self, make_runtime: Any) -> None:
        client = ScriptedModelClient([asks(call("a"))])
        with pytest.raises(NodeError) as info:
            make_runtime(tool_calling_agent(model="m"), model=client).run_sync(
                "t", "go"
            )
        assert isinstance(info.value.__cause__, ToolRegistryMissingError)


def test_tool_execute_needs_its_task_local_call() -> None:
    graph = tool_calling_agent(model="m", tools=TOOLS)
    fn = graph.nodes["tool_execute"].fn
    ctx = node_input(S, node_id="tool_execute")
    with pytest.raises(MissingTaskLocalValueError) as info:
        asyncio.run(fn(ctx))  # type: ignore[arg-type]
    assert info.value.channel_id == "current_tool_call"
