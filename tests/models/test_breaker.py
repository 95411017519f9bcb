"""The circuit breaker and the fallback client, on the fake clock: open, fail fast,
fall through, half-open probe, close; state changes as events and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hive_core.models import (
    BreakerStateChanged,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    CircuitBreaker,
    CircuitOpenError,
    FallbackClient,
    Final,
    ModelError,
    ModelProvidersExhaustedError,
    StreamChunk,
    Token,
)
from hive_core.testing import FakeClock

REQUEST = ChatRequest(model="m", messages=(ChatMessage.user("u", "hi"),))


class Flaky:
    """Fails while ``down`` is set; counts the calls that reached it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down = True
        self.calls = 0

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        if self.down:
            raise ConnectionError(f"{self.name} is down")
        return ChatResponse(message=ChatMessage.assistant("a", self.name))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        response = await self.complete(request)
        yield Token(response.message.content)
        yield Final(response)


def breaker(
    client: Flaky, clock: FakeClock, changes: list[BreakerStateChanged]
) -> CircuitBreaker:
    return CircuitBreaker(
        client,
        provider=client.name,
        failure_threshold=3,
        cooldown_s=10.0,
        clock=clock,
        on_change=[changes.append],
    )


def call(client: Any) -> str:
    content: str = asyncio.run(client.complete(REQUEST)).message.content
    return content


def no_changes() -> list[BreakerStateChanged]:
    return []


def test_opens_after_n_consecutive_failures_then_fails_fast() -> None:
    clock, changes, primary = FakeClock(), no_changes(), Flaky("primary")
    b = breaker(primary, clock, changes)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            call(b)
    assert b.state == "open"
    assert [(c.previous, c.state, c.consecutive_failures) for c in changes] == [
        ("closed", "open", 3)
    ]
    clock.advance(9.5)
    with pytest.raises(CircuitOpenError) as info:
        call(b)
    assert primary.calls == 3  # the fast failure never reached the provider
    err = info.value
    assert isinstance(err, ModelError)
    assert err.code == "model-circuit-open"
    assert (err.provider, err.retry_after_s, err.failures) == ("primary", 0.5, 3)
    assert "Fix:" in str(err)


def test_a_success_resets_the_consecutive_count() -> None:
    clock, changes, primary = FakeClock(), no_changes(), Flaky("primary")
    b = breaker(primary, clock, changes)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            call(b)
    primary.down = False
    assert call(b) == "primary"
    primary.down = True
    for _ in range(2):
        with pytest.raises(ConnectionError):
            call(b)
    assert b.state == "closed"
    assert changes == []


def test_half_open_probe_closes_it_again() -> None:
    clock, changes, primary = FakeClock(), no_changes(), Flaky("primary")
    b = breaker(primary, clock, changes)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            call(b)
    clock.advance(10.0)
    primary.down = False
    assert call(b) == "primary"  # the probe
    assert b.state == "closed"
    assert [(c.previous, c.state, c.at) for c in changes] == [
        ("closed", "open", 0.0),
        ("open", "half_open", 10.0),
        ("half_open", "closed", 10.0),
    ]
    assert call(b) == "primary"


def test_a_failed_probe_opens_it_for_another_cooldown() -> None:
    clock, changes, primary = FakeClock(), no_changes(), Flaky("primary")
    b = breaker(primary, clock, changes)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            call(b)
    clock.advance(10.0)
    with pytest.raises(ConnectionError):
        call(b)  # one probe, which fails
    assert b.state == "open"
    assert primary.calls == 4
    clock.advance(9.0)
    with pytest.raises(CircuitOpenError):
        call(b)
    clock.advance(1.0)
    primary.down = False
    assert call(b) == "primary"
    assert [c.state for c in changes] == [
        "open",
        "half_open",
        "open",
        "half_open",
        "closed",
    ]


def test_only_one_probe_while_half_open() -> None:
    clock, changes = FakeClock(), no_changes()
    release = asyncio.Event()

    class Slow(Flaky):
        async def complete(self, request: ChatRequest) -> ChatResponse:
            self.calls += 1
            if self.down:
                raise ConnectionError("down")
            await release.wait()
            return ChatResponse(message=ChatMessage.assistant("a", "slow"))

    slow = Slow("slow")
    b = breaker(slow, clock, changes)

    async def scenario() -> None:
        for _ in range(3):
            with pytest.raises(ConnectionError):
                await b.complete(REQUEST)
        clock.advance(10.0)
        slow.down = False
        probe = asyncio.ensure_future(b.complete(REQUEST))
        await asyncio.sleep(0)
        assert b.state == "half_open"
        with pytest.raises(CircuitOpenError):
            await b.complete(REQUEST)  # a second caller during the probe
        release.set()
        assert (await probe).message.content == "slow"

    asyncio.run(scenario())
    assert slow.calls == 4
    assert b.state == "closed"


def test_fallback_falls_through_to_the_next_provider() -> None:
    clock, changes = FakeClock(), no_changes()
    primary, backup = Flaky("primary"), Flaky("backup")
    backup.down = False
    client = FallbackClient(
        [breaker(primary, clock, changes), breaker(backup, clock, changes)]
    )
    answers = [call(client) for _ in range(5)]
    assert answers == ["backup"] * 5
    assert primary.calls == 3  # calls 4 and 5 skipped it: its breaker is open
    assert backup.calls == 5
    clock.advance(10.0)
    primary.down = False
    assert call(client) == "primary"  # the probe succeeds and closes it
    assert [(c.provider, c.state) for c in changes] == [
        ("primary", "open"),
        ("primary", "half_open"),
        ("primary", "closed"),
    ]


def test_fallback_with_every_provider_down() -> None:
    clock, changes = FakeClock(), no_changes()
    a, b = Flaky("a"), Flaky("b")
    client = FallbackClient([breaker(a, clock, changes), breaker(b, clock, changes)])
    with pytest.raises(ModelProvidersExhaustedError) as info:
        call(client)
    assert info.value.code == "model-providers-exhausted"
    assert [p for p, _, _ in info.value.errors] == ["a", "b"]
    assert isinstance(info.value.__cause__, ConnectionError)


def test_fallback_streams_from_the_next_provider_before_any_token() -> None:
    clock, changes = FakeClock(), no_changes()
    primary, backup = Flaky("primary"), Flaky("backup")
    backup.down = False
    client = FallbackClient([breaker(primary, clock, changes), backup])

    async def collect() -> list[StreamChunk]:
        return [c async for c in client.stream(REQUEST)]

    chunks = asyncio.run(collect())
    assert chunks[0] == Token("backup")
    assert isinstance(chunks[-1], Final)


def test_state_changes_as_metrics() -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client import generate_latest

    from hive_core.observability import PrometheusMetrics

    metrics = PrometheusMetrics()
    clock, primary = FakeClock(), Flaky("primary")
    b = CircuitBreaker(
        primary,
        provider="primary",
        failure_threshold=1,
        cooldown_s=5.0,
        clock=clock,
        on_change=[metrics.breaker_changed],
    )
    with pytest.raises(ConnectionError):
        call(b)
    text = generate_latest(metrics.registry).decode()
    assert 'hive_model_breaker_state{provider="primary"} 1.0' in text
    clock.advance(5.0)
    primary.down = False
    call(b)
    text = generate_latest(metrics.registry).decode()
    assert 'hive_model_breaker_state{provider="primary"} 0.0' in text
    assert (
        'hive_model_breaker_transitions_total{provider="primary",state="open"} 1.0'
        in text
    )


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(Flaky("x"), provider="x", failure_threshold=0)


def test_fallback_calls_are_observed_per_provider() -> None:
    """Inside a run, each provider attempt is a model call of its own provider."""
    pytest.importorskip("prometheus_client")
    from prometheus_client import generate_latest

    from hive_core import Environment, GraphBuilder, NodeInput, Runtime, Schema, channel
    from hive_core.models import call_model
    from hive_core.observability import PrometheusMetrics

    class S(Schema):
        x = channel(int)

    clock, changes = FakeClock(), no_changes()
    primary, backup = Flaky("primary"), Flaky("backup")
    backup.down = False
    client = FallbackClient(
        [breaker(primary, clock, changes), breaker(backup, clock, changes)]
    )

    async def ask(inp: NodeInput) -> None:
        for mode in ("complete", "stream", "complete", "complete"):
            await call_model(REQUEST, client, mode, inp.emit)

    metrics = PrometheusMetrics()
    g = GraphBuilder(S, start=["ask"]).add_node("ask", ask).compile()
    Runtime(g, environment=Environment(observer=metrics)).run_sync("t", {})
    text = generate_latest(metrics.registry).decode()
    # primary failed three times (then its breaker opened: one fast failure)
    assert 'hive_model_calls_total{outcome="error",provider="primary"} 4.0' in text
    assert 'hive_model_calls_total{outcome="ok",provider="backup"} 4.0' in text
    assert "FallbackClient" not in text


def test_state_changes_appear_in_the_runs_trace(hive_trace: Any) -> None:
    """A breaker called through a node's ``call_model`` puts its transitions into
    that run's trace, in order and on the fake clock (same trace every run)."""
    from hive_core import (
        GraphBuilder,
        NodeInput,
        NodeOutput,
        Schema,
        Write,
        channel,
    )
    from hive_core.events import trace_to_builtins
    from hive_core.models import call_model

    class S(Schema):
        answer = channel(str)

    def build() -> tuple[Any, list[BreakerStateChanged]]:
        clock, changes = FakeClock(), no_changes()
        primary = Flaky("primary")
        client = breaker(primary, clock, changes)

        async def fail(inp: NodeInput) -> None:
            for _ in range(4):  # three failures open it, the fourth fails fast
                with pytest.raises((ConnectionError, CircuitOpenError)):
                    await call_model(REQUEST, client, "complete", inp.emit)

        async def recover(inp: NodeInput) -> NodeOutput:
            clock.advance(10.0)  # the cool-down passed: the next call is the probe
            primary.down = False
            reply = await call_model(REQUEST, client, "stream", inp.emit)
            return NodeOutput(writes=[Write(S.answer, reply.message.content)])

        g = (
            GraphBuilder(S, start=["fail"])
            .add_node("fail", fail)
            .add_node("recover", recover)
            .add_edge("fail", "recover")
            .compile()
        )
        return g, changes

    graph, changes = build()
    trace = hive_trace(graph)
    got = trace.of_kind("model_breaker_changed")
    assert [(e["step"], e["state"], e["previous"]) for e in got] == [
        (0, "open", "closed"),
        (1, "half_open", "open"),
        (1, "closed", "half_open"),
    ]
    assert [e["consecutive_failures"] for e in got] == [3, 3, 0]
    assert {e["provider"] for e in got} == {"primary"}
    assert [c.state for c in changes] == [e["state"] for e in got]  # listeners too
    assert trace.store["answer"] == "primary"
    # inside the model call: between its started and finished events
    events = trace_to_builtins(trace.events)
    kinds = [e["kind"] for e in events if e.get("step") == 1]
    i = kinds.index("model_breaker_changed")
    assert kinds[i - 1] == "model_invocation_started"
    again, _ = build()
    assert hive_trace(again).to_text() == trace.to_text()


def test_no_trace_event_outside_a_node() -> None:
    """Called directly (no node ``emit``), a breaker only tells its listeners."""
    from hive_core.models._call_context import current_emit

    changes = no_changes()
    client = breaker(Flaky("p"), FakeClock(), changes)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            call(client)
    assert [c.state for c in changes] == ["open"] and current_emit.get() is None
