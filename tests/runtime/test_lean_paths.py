"""The engine's short paths give what the long ones give (``docs/performance.md``).

A run's random ids, a dict input applied as its pairs, and the ``NodeInput`` the
runtime builds from the attempt's shared facts: each is checked against the path it
shortens, so a change that made them differ fails here.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from hive_core import (
    GraphBuilder,
    InMemoryCheckpointStore,
    InputContext,
    InvalidRunOptionsError,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    UnknownChannelError,
    Write,
    WritesArgumentError,
    channel,
    reducers,
)
from hive_core.events import Event, RunStarted
from hive_core.runtime import _ids
from hive_core.testing import SequentialIds

_UUID4 = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)


class S(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")
    log = channel(list[str], reducer=reducers.append, update="multi")


def _graph(fn: Any) -> Any:
    return GraphBuilder(S, start=["A"]).add_node("A", fn).compile()


def _add(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(S.n, 1)])


class TestRandomIds:
    @pytest.mark.parametrize("raw", [bytes(16), b"\xff" * 16, bytes(range(16))])
    def test_a_run_id_is_uuid4_of_the_same_bytes(
        self, raw: bytes, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(os, "urandom", lambda n: raw[:n])
        got = _ids.RandomIds().new_run_id()
        want = uuid.UUID(bytes=raw, version=4)
        assert got == want
        assert (got.int, got.is_safe, got.version, got.variant) == (
            want.int,
            want.is_safe,
            4,
            uuid.RFC_4122,
        )
        assert str(got) == str(want) and hash(got) == hash(want)

    def test_the_attempt_id_a_node_reads_is_the_handles_and_the_events(self) -> None:
        seen: list[str] = []

        def node(ctx: NodeInput) -> NodeOutput:
            seen.append(ctx.attempt_id)
            return NodeOutput()

        rt = Runtime(_graph(node))
        handle = rt.run("t", None)

        async def collect() -> list[Event]:
            return [ev async for ev in handle.events]

        import asyncio

        events = asyncio.run(collect())
        assert _UUID4.match(handle.attempt_id)
        assert seen == [handle.attempt_id]
        assert {ev.attempt_id for ev in events} == {handle.attempt_id}
        assert isinstance(events[0], RunStarted)

    def test_every_call_gets_its_own_attempt_id(self) -> None:
        seen: list[str] = []

        def node(ctx: NodeInput) -> NodeOutput:
            seen.append(ctx.attempt_id)
            return NodeOutput()

        rt = Runtime(_graph(node))
        for i in range(3):
            rt.run_sync(f"t{i}")
        assert len(set(seen)) == 3 and all(_UUID4.match(a) for a in seen)

    def test_sequential_ids_keep_their_draw_order(self) -> None:
        # the attempt id is drawn before the run id, as always
        seen: list[tuple[str, str]] = []

        def node(ctx: NodeInput) -> NodeOutput:
            seen.append((ctx.attempt_id, ctx.run_id))
            return NodeOutput()

        ids = SequentialIds()
        rt = Runtime(_graph(node), ids=ids)
        rt.run_sync("t")
        want = SequentialIds()
        attempt = str(want.new_attempt_id())
        run = str(want.new_run_id())
        assert seen == [(attempt, run)]


class TestNodeInputFacts:
    def test_the_runtime_built_input_reads_the_attempts_facts(self) -> None:
        store = InMemoryCheckpointStore()
        got: list[tuple[object, ...]] = []

        def node(ctx: NodeInput) -> NodeOutput:
            got.append(
                (
                    ctx.run_id,
                    ctx.thread_id,
                    ctx.attempt_id,
                    ctx.environment,
                    ctx.checkpoint_store,
                    ctx.node_id,
                    ctx.step,
                    ctx.resume,
                    ctx.streaming,
                    ctx.task_id,
                )
            )
            return NodeOutput()

        rt = Runtime(_graph(node), checkpoint_store=store)
        out = rt.run_sync("thread-1")
        (
            run_id,
            thread_id,
            attempt_id,
            env,
            cps,
            node_id,
            step,
            resume,
            streaming,
            tid,
        ) = got[0]
        assert run_id == out.run_id
        assert thread_id == "thread-1"
        assert isinstance(attempt_id, str) and _UUID4.match(attempt_id)
        assert env is rt.environment and cps is store
        assert (node_id, step, resume, streaming) == ("A", 0, None, False)
        assert isinstance(tid, str) and len(tid) == 64

    def test_the_public_constructor_keeps_every_field(self) -> None:
        from hive_core.testing import node_input

        ctx = node_input(S, {S.n: 3}, thread_id="th")
        rebuilt = NodeInput(
            store=ctx.store,
            node_id="x",
            task_id="tid",
            step=4,
            run_id="r",
            thread_id="th2",
            attempt_id="a",
            resume=None,
            environment=ctx.environment,
        )
        assert (rebuilt.run_id, rebuilt.thread_id, rebuilt.attempt_id) == (
            "r",
            "th2",
            "a",
        )
        assert (rebuilt.node_id, rebuilt.task_id, rebuilt.step) == ("x", "tid", 4)
        assert rebuilt.environment is ctx.environment
        assert rebuilt.checkpoint_store is None and not rebuilt.streaming
        assert ctx.thread_id == "th" and ctx.store.get(S.n) == 3


class Mapped(Schema):
    """The default mapping written out by hand: the long path."""

    n = channel(int, reducer=reducers.sum, update="multi")
    log = channel(list[str], reducer=reducers.append, update="multi")

    @classmethod
    def input_writes(cls, input: object, ctx: InputContext) -> Sequence[Write[Any]]:
        assert isinstance(input, dict)
        return [Write(k, v) for k, v in input.items()]


def _mapped_add(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(Mapped.n, 1)])


class TestDictInput:
    @pytest.mark.parametrize(
        "make",
        [
            lambda s: {s.n: 4, s.log: ["a"]},
            lambda s: {"log": ["b", "c"], "n": 2},
            lambda s: {},
            lambda s: {s.log: []},
        ],
    )
    def test_pairs_give_what_writes_give(self, make: Any) -> None:
        short = Runtime(_graph(_add)).run_sync("t", make(S))
        graph = GraphBuilder(Mapped, start=["A"]).add_node("A", _mapped_add).compile()
        long = Runtime(graph).run_sync("t", make(Mapped))
        assert short.output == long.output and short.status == long.status

    def test_a_key_that_is_not_a_channel_is_refused_and_changes_nothing(self) -> None:
        rt = Runtime(_graph(_add))
        with pytest.raises(InvalidRunOptionsError) as info:
            rt.run_sync("t", {S.n: 1, 5: 2})
        assert info.value.option == "input" and "int 5" in str(info.value)
        assert rt.get_state_sync("t") is None

    def test_an_external_write_to_a_non_channel_is_refused(self) -> None:
        rt = Runtime(_graph(_add))
        rt.run_sync("t", {S.n: 1})
        with pytest.raises(UnknownChannelError):
            rt.apply_external_writes_sync("t", [Write(7, 1)])  # type: ignore[arg-type]
        snap = rt.get_state_sync("t")
        assert snap is not None and snap.store.get(S.n) == 2

    def test_a_mapper_may_return_a_generator(self) -> None:
        class Gen(Schema):
            n = channel(int, reducer=reducers.sum, update="multi")

            @classmethod
            def input_writes(  # type: ignore[override]
                cls, input: object, ctx: InputContext
            ) -> Iterator[Write[Any]]:
                yield Write(Gen.n, 5)

        graph = GraphBuilder(Gen, start=["A"]).add_node("A", lambda c: None).compile()
        assert Runtime(graph).run_sync("t", "anything").output == {"n": 5}

    def test_a_mapper_returning_no_writes_is_a_typed_error(self) -> None:
        class Bad(Schema):
            n = channel(int, reducer=reducers.sum, update="multi")

            @classmethod
            def input_writes(cls, input: object, ctx: InputContext) -> Any:
                return [("n", 1)]

        graph = GraphBuilder(Bad, start=["A"]).add_node("A", lambda c: None).compile()
        rt = Runtime(graph)
        with pytest.raises(WritesArgumentError) as info:
            rt.run_sync("t", {})
        assert "Schema.input_writes" in str(info.value)
        assert rt.get_state_sync("t") is None


def test_a_loop_of_one_write_nodes_matches_its_options_twin() -> None:
    """The one-write commit and the seven-field input, against a run that
    streams (a listener takes the general event path)."""

    def route(view: Any) -> Any:
        return ["A"] if view.get(S.n) < 50 else []

    graph = (
        GraphBuilder(S, start=["A"])
        .add_node("A", _add)
        .add_router("A", route)
        .compile()
    )
    quiet = Runtime(graph).run_sync("t", {S.n: 0}, RunOptions(max_steps=100))
    loud = Runtime(graph)
    options = RunOptions(max_steps=100)
    parts = list(loud.stream_sync("t", {S.n: 0}, modes=("values",), options=options))
    assert quiet.output == {"n": 50, "log": []}
    assert parts and parts[-1].data == {"n": 50, "log": []}
