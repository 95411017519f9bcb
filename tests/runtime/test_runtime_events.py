"""Events: payload hashes and debug payloads, stream events (live and deterministic),
backpressure, output projection and option validation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import msgspec
import pytest

from hive_core import (
    CheckpointPolicy,
    GraphBuilder,
    InvalidRunOptionsError,
    NodeError,
    NodeInput,
    NodeOutput,
    RunOptions,
    Schema,
    Utf8Codec,
    Write,
    channel,
    reducers,
)
from hive_core.events import (
    CustomDebug,
    ModelInvocationFinished,
    ModelInvocationStarted,
    ModelToken,
    RunFinished,
    ToolInvocationFinished,
    ToolInvocationStarted,
)


class E(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    meta = channel(dict[str, int])
    name = channel(str, codec=Utf8Codec())
    scratch = channel(object, codec=None, persistence="untracked", initial=lambda: None)
    item = channel(str, scope="task_local", codec=Utf8Codec())


def writes_node(*writes: Write[Any]) -> Any:
    def fn(inp: NodeInput) -> NodeOutput:
        return NodeOutput(writes=list(writes))

    return fn


class TestPayloadHash:
    VALUES = (
        Write(E.meta, {"b": 1, "a": 2}),
        Write(E.name, "héllo"),
        Write(E.scratch, {"z": [1, 2], "y": None}),
    )

    def run(self, make_runtime: Any, collect: Any, debug: bool) -> dict[str, Any]:
        g = (
            GraphBuilder(E, start=["A"])
            .add_node("A", writes_node(*self.VALUES))
            .compile()
        )
        got = asyncio.run(
            collect(make_runtime(g), "t", None, RunOptions(debug_payloads=debug))
        )
        return {e.channel: e for e in got.of_kind("write_applied")}

    def test_hash_is_sha256_of_codec_bytes(
        self, make_runtime: Any, collect: Any
    ) -> None:
        applied = self.run(make_runtime, collect, debug=False)
        assert list(applied) == ["meta", "name", "scratch"]  # sorted by channel
        meta_bytes = msgspec.json.encode({"b": 1, "a": 2}, order="deterministic")
        assert meta_bytes == b'{"a":2,"b":1}'
        assert applied["meta"].payload_hash == hashlib.sha256(meta_bytes).hexdigest()
        assert (
            applied["name"].payload_hash == hashlib.sha256("héllo".encode()).hexdigest()
        )
        # no codec: canonical JSON of the value
        assert (
            applied["scratch"].payload_hash
            == hashlib.sha256(b'{"y":null,"z":[1,2]}').hexdigest()
        )
        assert all(e.metadata == {} for e in applied.values())

    def test_debug_payloads_metadata(self, make_runtime: Any, collect: Any) -> None:
        applied = self.run(make_runtime, collect, debug=True)
        assert applied["meta"].metadata == {
            "value_type": "dict[str, int]",
            "codec_id": "json",
            "payload_encoding": "codec.base64",
            "payload": base64.b64encode(b'{"a":2,"b":1}').decode(),
        }
        assert applied["name"].metadata == {
            "value_type": "str",
            "codec_id": "string.v1",
            "payload_encoding": "codec.base64",
            "payload": base64.b64encode("héllo".encode()).decode(),
        }
        assert applied["scratch"].metadata == {
            "value_type": "object",
            "codec_id": "",
            "payload_encoding": "json.utf8",
            "payload": '{"y":null,"z":[1,2]}',
        }

    def test_unhashable_value(self, make_runtime: Any, collect: Any) -> None:
        g = (
            GraphBuilder(E, start=["A"])
            .add_node("A", writes_node(Write(E.scratch, object())))
            .compile()
        )
        got = asyncio.run(
            collect(make_runtime(g), "t", None, RunOptions(debug_payloads=True))
        )
        (applied,) = got.of_kind("write_applied")
        assert applied.payload_hash == hashlib.sha256(b"unhashable:object").hexdigest()
        assert applied.metadata["payload_encoding"] == "unhashable"

    def test_task_failed_error_full_repr_with_debug(
        self, make_runtime: Any, collect: Any
    ) -> None:
        def boom(inp: NodeInput) -> NodeOutput:
            raise ValueError("boom")

        g = GraphBuilder(E, start=["A"]).add_node("A", boom).compile()
        quiet = asyncio.run(collect(make_runtime(g), "t"))
        loud = asyncio.run(
            collect(make_runtime(g), "t", None, RunOptions(debug_payloads=True))
        )
        assert quiet.of_kind("task_failed")[0].error == "ValueError"
        assert loud.of_kind("task_failed")[0].error == "ValueError('boom')"


class TestStreamEvents:
    def graph(self) -> Any:
        """A (ordinal 0) emits only after B (ordinal 1) has emitted."""
        b_emitted = asyncio.Event()

        async def a(inp: NodeInput) -> None:
            await b_emitted.wait()
            inp.emit(ModelToken("a1"))
            inp.emit(ModelToken("a2"))

        async def b(inp: NodeInput) -> None:
            inp.emit(ModelToken("b1"))
            b_emitted.set()
            await asyncio.sleep(0)
            inp.emit(CustomDebug("b-debug"))

        return (
            GraphBuilder(E, start=["A", "B"])
            .add_node("A", a)
            .add_node("B", b)
            .compile()
        )

    def stream(self, got: Any) -> list[tuple[int, Any]]:
        return [
            (e.ordinal, getattr(e, "text", None) or getattr(e, "name", ""))
            for e in got.events
            if type(e).stream
        ]

    def test_live_mode_in_real_time_order(
        self, make_runtime: Any, collect: Any
    ) -> None:
        async def main() -> Any:
            return await collect(make_runtime(self.graph()), "t")

        got = asyncio.run(main())
        assert got.kinds[:4] == [
            "run_started",
            "step_started",
            "task_started",
            "task_started",
        ]
        assert self.stream(got) == [(1, "b1"), (0, "a1"), (0, "a2"), (1, "b-debug")]
        first_end = got.kinds.index("task_finished")
        assert all(type(e).stream for e in got.events[4:first_end])
        assert got.events[4].step == 0

    def test_deterministic_mode_flushes_by_ordinal(
        self, make_runtime: Any, collect: Any
    ) -> None:
        async def main() -> Any:
            opts = RunOptions(deterministic_token_streaming=True)
            return await collect(make_runtime(self.graph()), "t", None, opts)

        got = asyncio.run(main())
        assert self.stream(got) == [(0, "a1"), (0, "a2"), (1, "b1"), (1, "b-debug")]
        assert got.kinds[2:10] == [
            "task_started",
            "task_started",
            "model_token",
            "model_token",
            "model_token",
            "custom_debug",
            "task_finished",
            "task_finished",
        ]

    def test_every_stream_kind(self, make_runtime: Any, collect: Any) -> None:
        def node(inp: NodeInput) -> None:
            inp.emit(ModelInvocationStarted("gpt-x"))
            inp.emit(ModelToken("hi"))
            inp.emit(ModelInvocationFinished())
            inp.emit(ToolInvocationStarted("search", metadata={"q": "1"}))
            inp.emit(ToolInvocationFinished("search", False))
            inp.emit_debug("note", {"k": "v"})

        g = GraphBuilder(E, start=["A"]).add_node("A", node).compile()
        got = asyncio.run(collect(make_runtime(g), "t"))
        stream = [msgspec.to_builtins(e) for e in got.events if type(e).stream]
        for d in stream:
            for key in ("run_id", "attempt_id", "index"):
                d.pop(key)
        assert stream == [
            {
                "kind": "model_invocation_started",
                "step": 0,
                "ordinal": 0,
                "model": "gpt-x",
            },
            {"kind": "model_token", "step": 0, "ordinal": 0, "text": "hi"},
            {"kind": "model_invocation_finished", "step": 0, "ordinal": 0},
            {
                "kind": "tool_invocation_started",
                "step": 0,
                "ordinal": 0,
                "metadata": {"q": "1"},
                "name": "search",
            },
            {
                "kind": "tool_invocation_finished",
                "step": 0,
                "ordinal": 0,
                "name": "search",
                "success": False,
            },
            {
                "kind": "custom_debug",
                "step": 0,
                "ordinal": 0,
                "metadata": {"k": "v"},
                "name": "note",
            },
        ]

    def test_a_non_stream_event_fails_the_task(
        self, make_runtime: Any, collect: Any
    ) -> None:
        g = (
            GraphBuilder(E, start=["A"])
            .add_node(
                "A",
                lambda inp: inp.emit(RunFinished(run_id="r", attempt_id="a", index=0)),  # type: ignore[arg-type]
            )
            .compile()
        )
        got = asyncio.run(collect(make_runtime(g), "t"))
        assert isinstance(got.error, NodeError)
        assert isinstance(got.error.__cause__, TypeError)
        assert "got RunFinished" in str(got.error.__cause__)


class TestBackpressure:
    def test_deterministic_buffers_coalesce_and_drop(
        self, make_runtime: Any, collect: Any
    ) -> None:
        def chatty(inp: NodeInput) -> None:
            inp.emit(ModelToken("a"))
            inp.emit(CustomDebug("x"))  # per-task buffer (capacity 2) now full
            inp.emit(ModelToken("b"))  # last is not a token: dropped
            inp.emit(CustomDebug("y"))  # dropped
            inp.emit(ModelToken("c"))  # dropped

        async def main() -> Any:
            async def slow(ev: Any, handle: Any) -> None:
                await asyncio.sleep(0.0005)

            g = GraphBuilder(E, start=["A"]).add_node("A", chatty).compile()
            opts = RunOptions(
                deterministic_token_streaming=True, event_buffer_capacity=2
            )
            return await collect(make_runtime(g), "t", None, opts, on_event=slow)

        got = asyncio.run(main())
        assert got.outcome.status == "finished"
        assert [
            getattr(e, "text", getattr(e, "name", ""))
            for e in got.events
            if type(e).stream
        ] == ["a", "x"]
        (bp,) = got.of_kind("stream_backpressure")
        assert (bp.dropped_model_tokens, bp.dropped_debug) == (2, 1)
        assert got.kinds[-3:] == [
            "stream_backpressure",
            "step_finished",
            "run_finished",
        ]
        assert [e.index for e in got.events] == list(range(len(got.events)))

    def test_deterministic_token_coalesces_into_last_token(
        self, make_runtime: Any, collect: Any
    ) -> None:
        def tokens(inp: NodeInput) -> None:
            for t in "abcd":
                inp.emit(ModelToken(t))

        g = GraphBuilder(E, start=["A"]).add_node("A", tokens).compile()
        opts = RunOptions(deterministic_token_streaming=True, event_buffer_capacity=2)
        got = asyncio.run(collect(make_runtime(g), "t", None, opts))
        assert [e.text for e in got.of_kind("model_token")] == ["a", "bcd"]
        assert got.of_kind("stream_backpressure") == []  # nothing was lost

    def test_deterministic_overflow_of_non_droppable_fails_task(
        self, make_runtime: Any, collect: Any
    ) -> None:
        def tools(inp: NodeInput) -> None:
            for name in "abc":
                inp.emit(ToolInvocationStarted(name))

        g = GraphBuilder(E, start=["A"]).add_node("A", tools).compile()
        opts = RunOptions(deterministic_token_streaming=True, event_buffer_capacity=2)
        got = asyncio.run(collect(make_runtime(g), "t", None, opts))
        assert isinstance(got.error, NodeError)

    def test_live_slow_consumer(self, make_runtime: Any, collect: Any) -> None:
        async def main() -> Any:
            consumer_parked = asyncio.Event()
            node_done = asyncio.Event()

            async def chatty(inp: NodeInput) -> None:
                await consumer_parked.wait()
                inp.emit(ModelToken("a"))  # fills the buffer (capacity 1)
                inp.emit(ModelToken("b"))  # coalesces into "ab"
                inp.emit(CustomDebug("x"))  # dropped
                inp.emit(ToolInvocationStarted("t"))  # never dropped
                inp.emit(ModelToken("c"))  # last is not a token: dropped
                node_done.set()

            async def park(ev: Any, handle: Any) -> None:
                if type(ev).__name__ == "TaskStarted":
                    consumer_parked.set()
                    await node_done.wait()  # a consumer that stops reading

            g = GraphBuilder(E, start=["A"]).add_node("A", chatty).compile()
            opts = RunOptions(event_buffer_capacity=1)
            return await collect(make_runtime(g), "t", None, opts, on_event=park)

        got = asyncio.run(main())
        assert got.outcome.status == "finished"
        assert [e.text for e in got.of_kind("model_token")] == ["ab"]
        assert got.of_kind("custom_debug") == []
        assert len(got.of_kind("tool_invocation_started")) == 1
        (bp,) = got.of_kind("stream_backpressure")
        assert (bp.dropped_model_tokens, bp.dropped_debug) == (1, 1)
        assert got.kinds[-3:] == [
            "stream_backpressure",
            "step_finished",
            "run_finished",
        ]
        assert [e.index for e in got.events] == list(range(len(got.events)))


class TestOutputProjection:
    def graph(self, projection: Any = None) -> Any:
        b = GraphBuilder(E, start=["A"]).add_node(
            "A", writes_node(Write(E.log, ["A"]), Write(E.name, "n"))
        )
        if projection is not None:
            b.set_output_projection(projection)
        return b.compile()

    def test_full_store_by_default_sorted(self, make_runtime: Any) -> None:
        out = make_runtime(self.graph()).run_sync("t")
        assert list(out.output) == ["log", "meta", "name", "scratch"]

    def test_graph_level(self, make_runtime: Any) -> None:
        out = make_runtime(self.graph(["name", E.log])).run_sync("t")
        assert list(out.output) == ["log", "name"]
        assert out.get(E.name) == "n"

    def test_override_wins(self, make_runtime: Any) -> None:
        rt = make_runtime(self.graph(["name", E.log]))
        out = rt.run_sync(
            "t", None, RunOptions(output_projection=[E.meta, "log", "log"])
        )
        assert list(out.output) == ["log", "meta"]
        assert out.output == {"log": ["A"], "meta": {}}


class TestInvalidOptions:
    @pytest.mark.parametrize(
        ("options", "option"),
        [
            (RunOptions(max_steps=-1), "max_steps"),
            (RunOptions(max_concurrent_tasks=0), "max_concurrent_tasks"),
            (RunOptions(event_buffer_capacity=0), "event_buffer_capacity"),
            (
                RunOptions(checkpoint_policy=CheckpointPolicy.every(0)),
                "checkpoint_policy",
            ),
            (RunOptions(output_projection=["nope"]), "output_projection"),
            (RunOptions(output_projection=[E.item]), "output_projection"),
        ],
        ids=[
            "max_steps",
            "concurrency",
            "buffer",
            "every0",
            "unknown_ch",
            "task_local_ch",
        ],
    )
    def test_rejected(
        self, options: RunOptions, option: str, make_runtime: Any, collect: Any
    ) -> None:
        ran: list[str] = []
        g = (
            GraphBuilder(E, start=["A"])
            .add_node("A", lambda inp: ran.append("A"))
            .compile()
        )
        rt = make_runtime(g)
        with pytest.raises(InvalidRunOptionsError) as info:
            rt.run_sync("t", None, options)
        assert info.value.option == option
        assert ran == []
        if option != "event_buffer_capacity":  # a listener needs a valid buffer
            got = asyncio.run(collect(rt, "u", None, options))
            assert isinstance(got.error, InvalidRunOptionsError)
            assert got.kinds == ["run_started"]
