"""``ModelTurn``: a model call (or the bounded tool loop) as a workflow node."""

from __future__ import annotations

from typing import Any

import pytest

from hive_core import NodeError, Schema, channel
from hive_core.models import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    HintRouter,
    ModelClientMissingError,
    ModelToolLoopLimitError,
    RoutingHints,
    ScriptedModelClient,
    ToolCall,
    ToolLoopConfig,
    ToolRegistry,
    message_id,
    messages_reducer,
)
from hive_dsl import ModelTurn, Workflow


class Chat(Schema):
    messages = channel(list[ChatMessage], reducer=messages_reducer, update="multi")
    answer = channel(str)
    finish = channel(str)


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def asks_add(call_id: str = "c1") -> ChatMessage:
    return ChatMessage.assistant(
        "x", "", (ToolCall(id=call_id, name="add", arguments_json='{"a":2,"b":3}'),)
    )


def build(turn: ModelTurn) -> Any:
    wf = Workflow(Chat)
    turn.register(wf, start=True)
    return wf.compile()


HELLO = {Chat.messages: [ChatMessage.user("u1", "hello")]}


class TestCompleteMode:
    def test_one_call_writes_text_and_message(
        self, make_runtime: Any, traced: Any
    ) -> None:
        client = ScriptedModelClient(["hi there"])
        turn = (
            ModelTurn("reply", model="m", messages=Chat.messages)
            .writes(to=Chat.answer)
            .writes(to=Chat.finish, transform=lambda r: r.finish_reason or "")
            .writes_messages(to=Chat.messages)
        )
        rt = make_runtime(build(turn), model=client)
        outcome, events = traced(rt, "t", HELLO)
        assert outcome.get(Chat.answer) == "hi there"
        assert outcome.get(Chat.finish) == "stop"
        msgs = outcome.get(Chat.messages)
        assert [m.role for m in msgs] == ["user", "assistant"]
        task = next(e for e in events if e["kind"] == "task_started")
        assert msgs[1].id == message_id(
            "assistant",
            run_id=outcome.run_id,
            step=0,
            task_id=task["task_id"],
        )
        assert [e["kind"] for e in events if e["kind"].startswith("model_")] == [
            "model_invocation_started",
            "model_invocation_finished",
        ]

    def test_complete_mode_runs_no_tools_even_when_listed(
        self, make_runtime: Any
    ) -> None:
        client = ScriptedModelClient([asks_add()])
        turn = (
            ModelTurn("reply", model="m", messages=Chat.messages)
            .tools(ToolRegistry([add]))
            .writes_messages(to=Chat.messages)
        )
        outcome = make_runtime(build(turn), model=client).run_sync("t", HELLO)
        assert [m.role for m in outcome.get(Chat.messages)] == ["user", "assistant"]
        assert [t.name for t in client.requests[0].tools] == ["add"]

    def test_stream_emits_tokens(self, make_runtime: Any, traced: Any) -> None:
        turn = ModelTurn("reply", model="m", messages=Chat.messages, stream=True)
        rt = make_runtime(
            build(turn.writes(to=Chat.answer)), model=ScriptedModelClient(["a b"])
        )
        outcome, events = traced(rt, "t", HELLO)
        assert [e["text"] for e in events if e["kind"] == "model_token"] == ["a", " b"]
        assert outcome.get(Chat.answer) == "a b"

    def test_messages_from_a_function_or_a_fixed_list(self, make_runtime: Any) -> None:
        client = ScriptedModelClient(["one", "two"])
        fixed = ModelTurn(
            "fixed", model="m", messages=[ChatMessage.user("q", "fixed?")]
        )
        computed = ModelTurn(
            "computed",
            model="m",
            messages=lambda view: [
                ChatMessage.user("q", str(len(view.get(Chat.messages))))
            ],
        )
        wf = Workflow(Chat)
        a = fixed.register(wf, start=True)
        b = computed.register(wf)
        wf.edge(a, b)
        make_runtime(wf.compile(), model=client).run_sync("t", HELLO)
        assert [r.messages[0].content for r in client.requests] == ["fixed?", "1"]


class TestAgentLoopMode:
    def test_loop_writes_every_appended_message(
        self, make_runtime: Any, traced: Any
    ) -> None:
        client = ScriptedModelClient([asks_add(), "5"])
        turn = (
            ModelTurn("agent", model="m", messages=Chat.messages)
            .tools([add])
            .agent_loop()
            .writes(to=Chat.answer)
            .writes_messages(to=Chat.messages)
        )
        rt = make_runtime(build(turn), model=client)
        outcome, events = traced(rt, "t", HELLO)
        msgs = outcome.get(Chat.messages)
        assert [(m.role, m.content) for m in msgs] == [
            ("user", "hello"),
            ("assistant", ""),
            ("tool", "5"),
            ("assistant", "5"),
        ]
        assert msgs[1].id != msgs[3].id  # numbered per task: index 0, then 1
        assert outcome.get(Chat.answer) == "5"
        assert [e["kind"] for e in events if e.get("ordinal") == 0][1:-1] == [
            "model_invocation_started",
            "model_invocation_finished",
            "tool_invocation_started",
            "tool_invocation_finished",
            "model_invocation_started",
            "model_invocation_finished",
        ]

    def test_tools_from_the_environment(self, make_runtime: Any) -> None:
        client = ScriptedModelClient([asks_add(), "5"])
        turn = (
            ModelTurn("agent", model="m", messages=Chat.messages)
            .tools("environment")
            .agent_loop()
            .writes(to=Chat.answer)
        )
        rt = make_runtime(build(turn), model=client, tools=ToolRegistry([add]))
        assert rt.run_sync("t", HELLO).get(Chat.answer) == "5"

    def test_loop_limit_fails_the_node(self, make_runtime: Any) -> None:
        client = ScriptedModelClient([asks_add("c1"), asks_add("c2")])
        turn = (
            ModelTurn("agent", model="m", messages=Chat.messages)
            .tools([add])
            .agent_loop(ToolLoopConfig(max_model_invocations=2))
        )
        with pytest.raises(NodeError) as info:
            make_runtime(build(turn), model=client).run_sync("t", HELLO)
        assert isinstance(info.value.__cause__, ModelToolLoopLimitError)


class TestClientSelection:
    def test_no_client_anywhere(self, make_runtime: Any) -> None:
        turn = ModelTurn("reply", model="m", messages=Chat.messages)
        with pytest.raises(NodeError) as info:
            make_runtime(build(turn)).run_sync("t", HELLO)
        cause = info.value.__cause__
        assert isinstance(cause, ModelClientMissingError)
        assert cause.where == "ModelTurn `reply`"

    def test_router_wins_over_environment_model_and_gets_hints(
        self, make_runtime: Any
    ) -> None:
        seen: list[RoutingHints] = []
        local = ScriptedModelClient(["local"])

        class Router:
            def route(self, request: ChatRequest, hints: RoutingHints) -> Any:
                seen.append(hints)
                return HintRouter(default=ScriptedModelClient([]), local=local).route(
                    request, hints
                )

        hints = RoutingHints(privacy_required=True)
        turn = ModelTurn("reply", model="m", messages=Chat.messages, hints=hints)
        wf = Workflow(Chat)
        turn.writes(to=Chat.answer).register(wf, start=True)
        rt = make_runtime(wf.compile(), model=ScriptedModelClient([]))
        rt.environment = rt.environment.__class__(
            clock=rt.environment.clock, model_router=Router()
        )
        assert rt.run_sync("t", HELLO).get(Chat.answer) == "local"
        assert seen == [hints]

    def test_explicit_client_wins(self, make_runtime: Any) -> None:
        turn = ModelTurn(
            "reply",
            model="m",
            messages=Chat.messages,
            client=ScriptedModelClient(["mine"]),
        ).writes(to=Chat.answer)
        rt = make_runtime(build(turn), model=ScriptedModelClient([]))
        assert rt.run_sync("t", HELLO).get(Chat.answer) == "mine"


class TestBuilder:
    def test_builders_return_new_turns(self) -> None:
        base = ModelTurn("t", model="m", messages=[])
        assert base.agent_loop() is not base
        assert base.loop is None
        assert base.agent_loop().loop == ToolLoopConfig()

    def test_node_id_is_the_turn_id(self) -> None:
        wf = Workflow(Chat)
        node = ModelTurn("answer", model="m", messages=[]).register(wf, start=True)
        assert node.id == "answer"

    def test_bad_tools_choice(self) -> None:
        with pytest.raises(ValueError, match="tools='all'"):
            ModelTurn("t", model="m", messages=[]).tools("all")  # type: ignore[arg-type]


class TestHintRouter:
    def test_routes(self) -> None:
        default, local, background = (
            ScriptedModelClient([]),
            ScriptedModelClient([]),
            ScriptedModelClient([]),
        )
        router = HintRouter(default=default, local=local, background=background)
        req = ChatRequest(model="m", messages=())
        assert router.route(req, RoutingHints()) is default
        assert router.route(req, RoutingHints(network_state="offline")) is local
        assert router.route(req, RoutingHints(privacy_required=True)) is local
        assert router.route(req, RoutingHints(latency_tier="background")) is background

    def test_private_request_without_local_client_is_refused(self) -> None:
        router = HintRouter(default=ScriptedModelClient([]))
        with pytest.raises(ModelClientMissingError, match="privacy"):
            router.route(
                ChatRequest(model="m", messages=()), RoutingHints(privacy_required=True)
            )


def test_scripted_client_runs_out() -> None:
    import asyncio

    client = ScriptedModelClient(
        [ChatResponse(message=ChatMessage.assistant("a", "x"))]
    )
    req = ChatRequest(model="m", messages=())
    asyncio.run(client.complete(req))
    with pytest.raises(RuntimeError, match="has 1 replies and was asked for reply #2"):
        asyncio.run(client.complete(req))


class InterleavingClient:
    """Yields to the event loop between tokens so parallel streams interleave."""

    def __init__(self, text: str) -> None:
        self.text = text

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError

    async def stream(self, request: ChatRequest) -> Any:
        import asyncio

        from hive_core.models import Final, Token

        for word in self.text.split():
            await asyncio.sleep(0)
            yield Token(word)
        yield Final(ChatResponse(message=ChatMessage.assistant("x", self.text)))


def test_parallel_streams_are_flushed_in_task_order(
    make_runtime: Any, traced: Any
) -> None:
    """Two turns stream at once; deterministic streaming groups each task's tokens
    and flushes them in ordinal order, whatever the interleaving was."""
    wf = Workflow(Chat)
    for name, text in (("left", "a b c"), ("right", "x y z")):
        ModelTurn(
            name,
            model=name,
            messages=Chat.messages,
            stream=True,
            client=InterleavingClient(text),
        ).register(wf, start=True)
    _, events = traced(make_runtime(wf.compile()), "t", HELLO)
    stream = [
        (e["ordinal"], e.get("text", e["kind"]))
        for e in events
        if e["kind"].startswith("model_")
    ]
    assert stream == [
        (0, "model_invocation_started"),
        (0, "a"),
        (0, "b"),
        (0, "c"),
        (0, "model_invocation_finished"),
        (1, "model_invocation_started"),
        (1, "x"),
        (1, "y"),
        (1, "z"),
        (1, "model_invocation_finished"),
    ]
