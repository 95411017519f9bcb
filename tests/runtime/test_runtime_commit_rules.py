"""One rule per test: input writes, seeding, task ids, the commit and routing."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from hive_core import (
    END,
    ChannelTypeMismatchError,
    GraphBuilder,
    InputContext,
    NodeError,
    NodeInput,
    NodeOutput,
    NodeOutputError,
    RouterError,
    RunOptions,
    Schema,
    Spawn,
    StoreView,
    TaskLocalWriteNotAllowedError,
    UnknownChannelError,
    UnknownNodeError,
    UpdatePolicyViolationError,
    Utf8Codec,
    Write,
    channel,
    reducers,
)
from hive_core.state import canonical_json


class S(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    n = channel(int)
    text = channel(str, reducer=lambda cur, upd: cur + upd, update="multi")
    item = channel(str, scope="task_local", codec=Utf8Codec())
    flash = channel(str, persistence="ephemeral")


class Raw(S):
    """Same channels; the input is a list of writes handed over verbatim."""

    seen_contexts: list[InputContext] = []  # noqa: RUF012 - test probe

    @classmethod
    def input_writes(cls, input: object, ctx: InputContext) -> Sequence[Write[Any]]:
        cls.seen_contexts.append(ctx)
        assert isinstance(input, list)
        return input


def appender(name: str, **more: Any) -> Any:
    def fn(inp: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(S.log, [name])], **more)

    return fn


def writes_node(*writes: Write[Any], **more: Any) -> Any:
    def fn(inp: NodeInput) -> NodeOutput:
        return NodeOutput(writes=list(writes), **more)

    return fn


def one_node(schema: type[Schema] = S, fn: Any = None) -> Any:
    return (
        GraphBuilder(schema, start=["A"]).add_node("A", fn or appender("A")).compile()
    )


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


class TestInputWrites:
    @pytest.mark.parametrize(
        ("writes", "error", "attrs"),
        [
            ([Write("nope", 1)], UnknownChannelError, {"channel_id": "nope"}),
            (
                [Write(S.item, "x")],
                TaskLocalWriteNotAllowedError,
                {"channel_id": "item"},
            ),
            (
                [Write(S.n, "three")],  # type: ignore[misc]
                ChannelTypeMismatchError,
                {"channel_id": "n", "expected": "int", "actual": "str"},
            ),
            (
                [Write(S.n, 1), Write(S.n, 2)],
                UpdatePolicyViolationError,
                {"channel_id": "n", "write_count": 2, "policy": "single"},
            ),
        ],
        ids=["unknown", "task_local", "type_mismatch", "single_twice"],
    )
    def test_rejected_before_step_zero(
        self,
        writes: list[Write[Any]],
        error: type[Exception],
        attrs: dict[str, Any],
        make_runtime: Any,
        collect: Any,
    ) -> None:
        rt = make_runtime(one_node(Raw))
        got = asyncio.run(collect(rt, "t", writes))
        assert isinstance(got.error, error)
        assert got.stream_error is got.error
        for name, value in attrs.items():
            assert getattr(got.error, name) == value
        assert got.kinds == ["run_started"]  # fails after run_started, before steps
        assert rt.get_latest_store("t") is None  # nothing was published

    def test_multi_reduced_in_list_order(self, make_runtime: Any) -> None:
        rt = make_runtime(one_node(Raw, fn=lambda inp: None))
        out = rt.run_sync(
            "t",
            [
                Write(S.text, "a"),
                Write(S.log, ["x"]),
                Write(S.text, "b"),
                Write(S.log, ["y"]),
            ],
        )
        assert out.output["text"] == "ab"
        assert out.output["log"] == ["x", "y"]

    def test_input_context_names_the_next_step(self, make_runtime: Any) -> None:
        Raw.seen_contexts.clear()
        rt = make_runtime(one_node(Raw))
        first = rt.run_sync("t", [])
        rt.run_sync("t", [])
        assert [(c.thread_id, c.step_index) for c in Raw.seen_contexts] == [
            ("t", 0),
            ("t", 1),
        ]
        assert Raw.seen_contexts[0].run_id == first.run_id

    def test_max_steps_zero_still_persists_input(
        self, make_runtime: Any, collect: Any
    ) -> None:
        rt = make_runtime(one_node())
        got = asyncio.run(collect(rt, "t", {"log": ["x"]}, RunOptions(max_steps=0)))
        assert got.outcome.status == "out_of_steps"
        assert got.outcome.max_steps == 0
        assert got.outcome.output["log"] == ["x"]
        assert got.kinds == ["run_started", "run_finished"]
        assert rt.get_latest_store("t").get(S.log) == ["x"]
        # the seeded frontier was kept: the next run continues with A
        assert rt.run_sync("t", {"log": ["y"]}).output["log"] == ["x", "y", "A"]

    def test_frontier_emptying_on_the_last_allowed_step_is_finished(
        self, make_runtime: Any
    ) -> None:
        out = make_runtime(one_node()).run_sync("t", None, RunOptions(max_steps=1))
        assert out.status == "finished"
        assert out.max_steps is None


class TestThreadLifecycle:
    def test_reinvoking_a_finished_thread_reseeds_and_keeps_store(
        self, make_runtime: Any, collect: Any
    ) -> None:
        g = (
            GraphBuilder(S, start=["A"])
            .add_node("A", appender("A"))
            .add_node("B", appender("B"))
            .add_edge("A", "B")
            .compile()
        )
        rt = make_runtime(g)
        first = asyncio.run(collect(rt, "t", {"log": ["one"]}))
        second = asyncio.run(collect(rt, "t", {"log": ["two"]}))
        assert second.outcome.output["log"] == ["one", "A", "B", "two", "A", "B"]
        assert second.outcome.run_id == first.outcome.run_id
        assert second.handle.run_id == first.handle.run_id
        # step indices continue across attempts; so task ids differ
        assert [(e.step, e.node) for e in second.of_kind("task_started")] == [
            (2, "A"),
            (3, "B"),
        ]
        ids1 = {e.task_id for e in first.of_kind("task_started")}
        ids2 = {e.task_id for e in second.of_kind("task_started")}
        assert not ids1 & ids2

    def test_frontier_seeded_in_builder_order(
        self, make_runtime: Any, collect: Any
    ) -> None:
        b = GraphBuilder(S, start=["C", "A", "B"])
        for name in "ABC":
            b.add_node(name, appender(name))
        got = asyncio.run(collect(make_runtime(b.compile()), "t"))
        started = [(e.ordinal, e.node) for e in got.of_kind("task_started")]
        assert started == [(0, "C"), (1, "A"), (2, "B")]
        assert got.outcome.output["log"] == ["C", "A", "B"]


class TestTaskIds:
    def test_empty_fingerprint_golden(self) -> None:
        fp = hashlib.sha256(b"HLF1" + u32(0)).hexdigest()
        assert fp == "3b54d1bf22aea64fa72d74e8bca1e504ea5f40f832e6bbf952ba79015becff2f"

    def test_recomputed_by_hand(self, make_runtime: Any, collect: Any) -> None:
        g = (
            GraphBuilder(S, start=["A", "B"])
            .add_node("A", appender("A", spawn=[Spawn("W", {S.item: "héllo"})]))
            .add_node("B", appender("B"))
            .add_node("W", appender("W"))
            .add_edge("A", "B")
            .compile()
        )
        got = asyncio.run(collect(make_runtime(g), "t"))
        run_uuid = uuid.UUID(got.outcome.run_id)

        def fingerprint(item: str) -> bytes:
            value = item.encode()
            return hashlib.sha256(
                b"HLF1" + u32(1) + u32(4) + b"item" + u32(len(value)) + value
            ).digest()

        def task_id(step: int, node: str, ordinal: int, fp: bytes) -> str:
            return hashlib.sha256(
                run_uuid.bytes
                + u32(step)
                + b"\x00"
                + node.encode()
                + b"\x00"
                + u32(ordinal)
                + fp
            ).hexdigest()

        started = {
            (e.step, e.ordinal): (e.node, e.task_id)
            for e in got.of_kind("task_started")
        }
        # the effective task-local view (initial "" when unset) is what is hashed
        assert started[(0, 0)] == ("A", task_id(0, "A", 0, fingerprint("")))
        assert started[(0, 1)] == ("B", task_id(0, "B", 1, fingerprint("")))
        assert started[(1, 0)] == ("B", task_id(1, "B", 0, fingerprint("")))
        assert started[(1, 1)] == ("W", task_id(1, "W", 1, fingerprint("héllo")))

    def test_stable_across_runtimes(self, make_runtime: Any, collect: Any) -> None:
        g = one_node()
        a = asyncio.run(collect(make_runtime(g), "t"))
        b = asyncio.run(collect(make_runtime(g), "t"))
        assert (
            a.of_kind("task_started")[0].task_id == b.of_kind("task_started")[0].task_id
        )


class TestCommit:
    def test_writes_reduced_by_ordinal_then_emission_not_completion(
        self, make_runtime: Any
    ) -> None:
        done: list[str] = []

        # completion order is forced to C, B, A (the reverse of ordinal order)
        gone = {name: asyncio.Event() for name in "ABC"}
        waits_for = {"A": "B", "B": "C", "C": None}

        def node(name: str) -> Any:
            async def fn(inp: NodeInput) -> NodeOutput:
                before = waits_for[name]
                if before is not None:
                    await gone[before].wait()
                done.append(name)
                gone[name].set()
                return NodeOutput(
                    writes=[
                        Write(S.log, [f"{name}1"]),
                        Write(S.text, name.lower()),
                        Write(S.log, [f"{name}2"]),
                    ]
                )

            return fn

        g = (
            GraphBuilder(S, start=["A", "B", "C"])
            .add_node("A", node("A"))
            .add_node("B", node("B"))
            .add_node("C", node("C"))
            .compile()
        )
        out = make_runtime(g).run_sync("t")
        assert done == ["C", "B", "A"]
        assert out.output["log"] == ["A1", "A2", "B1", "B2", "C1", "C2"]
        assert out.output["text"] == "abc"

    def test_unknown_channel_write(self, make_runtime: Any, collect: Any) -> None:
        rt = make_runtime(
            one_node(fn=writes_node(Write(S.log, ["ok"]), Write("nope", 1)))
        )
        got = asyncio.run(collect(rt, "t"))
        err = got.error
        assert isinstance(err, UnknownChannelError)
        assert (err.channel_id, err.node, err.step) == ("nope", "A", 0)
        assert got.kinds[-1] == "task_finished"  # the task succeeded; the commit failed
        assert rt.get_latest_store("t") is None  # the failed step committed nothing

    def test_type_mismatch_write_names_node_and_step(self, make_runtime: Any) -> None:
        g = (
            GraphBuilder(S, start=["A"])
            .add_node("A", appender("A"))
            .add_node("B", writes_node(Write(S.n, "three")))
            .add_edge("A", "B")
            .compile()
        )
        rt = make_runtime(g)
        with pytest.raises(ChannelTypeMismatchError) as info:
            rt.run_sync("t")
        err = info.value
        assert (err.channel_id, err.expected, err.actual) == ("n", "int", "str")
        assert (err.node, err.step) == ("B", 1)
        assert "node `B`" in str(err) and "step 1" in str(err)
        assert rt.get_latest_store("t").get(S.log) == ["A"]  # step 0 stays committed

    def test_graph_seeds_deduplicated_spawn_seeds_never(
        self, make_runtime: Any, collect: Any
    ) -> None:
        g = (
            GraphBuilder(S, start=["A", "B"])
            .add_node("A", appender("A", spawn=[Spawn("C"), Spawn("C")]))
            .add_node("B", appender("B"))
            .add_node("C", appender("C"))
            .add_edge("A", "C")
            .add_edge("B", "C")
            .add_join_edge(["A", "B"], "C")  # its seed is deduplicated away too
            .compile()
        )
        got = asyncio.run(collect(make_runtime(g), "t"))
        step1 = [e for e in got.of_kind("task_started") if e.step == 1]
        assert [e.node for e in step1] == ["C", "C", "C"]  # 1 graph + 2 spawns
        assert got.of_kind("step_finished")[0].next_frontier_count == 3
        assert got.outcome.output["log"] == ["A", "B", "C", "C", "C"]

    @pytest.mark.parametrize("sibling", [False, True], ids=["alone", "with_sibling"])
    def test_ephemeral_channel(
        self, sibling: bool, make_runtime: Any, collect: Any
    ) -> None:
        seen: dict[str, str] = {}

        def route(view: StoreView) -> list[str]:
            seen["router"] = view.get(S.flash)
            return ["B"]

        def b(inp: NodeInput) -> None:
            seen["next_step"] = inp.store.get(S.flash)

        start = ["A", "X"] if sibling else ["A"]
        g = (
            GraphBuilder(S, start=start)
            .add_node("A", writes_node(Write(S.flash, "hot"), Write(S.log, ["A"])))
            .add_node("B", b)
            .add_node("X", appender("X"))
            .add_router("A", route)
            .compile()
        )
        rt = make_runtime(g)
        got = asyncio.run(collect(rt, "t"))
        assert seen == {"router": "hot", "next_step": ""}
        assert got.outcome.output["flash"] == ""
        assert rt.get_latest_store("t").get(S.flash) == ""
        applied = {e.channel: e.payload_hash for e in got.of_kind("write_applied")}
        # the hash is of the reduced value, before the reset
        # (docs/concepts/schema-and-channels.md, "Persistence")
        assert applied["flash"] == hashlib.sha256(canonical_json("hot")).hexdigest()
        assert applied["flash"] == hashlib.sha256(b'"hot"').hexdigest()

    def test_task_local_writes(self, make_runtime: Any, collect: Any) -> None:
        """Single is enforced per task; task-local writes emit no write_applied."""
        seen: list[str] = []

        def route(view: StoreView) -> list[str]:
            seen.append(view.get(S.item))
            return []

        g = (
            GraphBuilder(S, start=["A", "B"])
            .add_node("A", writes_node(Write(S.item, "a")))
            .add_node("B", writes_node(Write(S.item, "b")))
            .add_router("A", route)
            .add_router("B", route)
            .compile()
        )
        got = asyncio.run(collect(make_runtime(g), "t"))
        assert got.outcome.status == "finished"
        assert seen == ["a", "b"]  # each router sees its own task's post-overlay
        assert got.of_kind("write_applied") == []

        twice = one_node(fn=writes_node(Write(S.item, "a"), Write(S.item, "b")))
        with pytest.raises(UpdatePolicyViolationError) as info:
            make_runtime(twice).run_sync("t")
        assert (info.value.channel_id, info.value.write_count) == ("item", 2)


class TestRouting:
    def test_explicit_next_bypasses_router_and_edges(self, make_runtime: Any) -> None:
        calls: list[str] = []

        def route(view: StoreView) -> list[str]:
            calls.append("router")
            return ["C"]

        b = GraphBuilder(S, start=["A"]).add_node("A", appender("A", next=["D", "B"]))
        for name in "BCD":
            b.add_node(name, appender(name))
        g = b.add_edge("A", "C").add_router("A", route).compile()
        out = make_runtime(g).run_sync("t")
        assert calls == []
        assert out.output["log"] == ["A", "D", "B"]  # the given order, not sorted

    def test_end_still_spawns(self, make_runtime: Any) -> None:
        g = (
            GraphBuilder(S, start=["A"])
            .add_node("A", appender("A", next=END, spawn=[Spawn("C")]))
            .add_node("B", appender("B"))
            .add_node("C", appender("C"))
            .add_edge("A", "B")
            .compile()
        )
        assert make_runtime(g).run_sync("t").output["log"] == ["A", "C"]

    def test_empty_next_ends(self, make_runtime: Any, collect: Any) -> None:
        calls: list[str] = []

        def route(view: StoreView) -> list[str]:
            calls.append("router")
            return ["B"]

        g = (
            GraphBuilder(S, start=["A"])
            .add_node("A", appender("A", next=[]))
            .add_node("B", appender("B"))
            .add_edge("A", "B")
            .add_router("A", route)
            .compile()
        )
        got = asyncio.run(collect(make_runtime(g), "t"))
        assert got.outcome.output["log"] == ["A"]
        assert calls == []
        assert got.of_kind("step_finished")[0].next_frontier_count == 0

    def test_router_edges_and_end_decisions(self, make_runtime: Any) -> None:
        from hive_core import GRAPH_EDGES

        def build(decision: Any) -> Any:
            return (
                GraphBuilder(S, start=["A"])
                .add_node("A", appender("A"))
                .add_node("B", appender("B"))
                .add_node("C", appender("C"))
                .add_edge("A", "B")
                .add_router("A", lambda view: decision)
                .compile()
            )

        assert make_runtime(build(GRAPH_EDGES)).run_sync("t").output["log"] == [
            "A",
            "B",
        ]
        assert make_runtime(build(END)).run_sync("t").output["log"] == ["A"]
        assert make_runtime(build(("C", "B"))).run_sync("t").output["log"] == [
            "A",
            "C",
            "B",
        ]

    @pytest.mark.parametrize(
        "garbage",
        [42, "B", None, {"B"}, [1], ["B", None], [Spawn("B", {"x": 1})]],
        ids=repr,
    )
    def test_router_returning_garbage(
        self, garbage: Any, make_runtime: Any, collect: Any
    ) -> None:
        g = (
            GraphBuilder(S, start=["A", "X"])
            .add_node("A", appender("A"))
            .add_node("B", appender("B"))
            .add_node("X", appender("X"))
            .add_router("A", lambda view: garbage)
            .compile()
        )
        rt = make_runtime(g)
        got = asyncio.run(collect(rt, "t"))
        err = got.error
        assert isinstance(err, RouterError)
        assert (err.node_id, err.step) == ("A", 0)
        # both tasks succeeded and say so; nothing of the step is committed
        assert got.kinds[-2:] == ["task_finished", "task_finished"]
        assert rt.get_latest_store("t") is None  # the failed step committed nothing
        if isinstance(garbage, list):  # the culprit item is named in the message
            bad = next(x for x in garbage if type(x) is not str)
            assert f"is {type(bad).__name__} {bad!r}" in str(err)
            assert ("spawn tasks from the node" in str(err)) == isinstance(bad, Spawn)

    @pytest.mark.parametrize(
        "garbage", [[Spawn("B", {"x": 1})], [1], ["B", None], "B"], ids=repr
    )
    def test_node_next_that_is_not_node_ids(
        self, garbage: Any, make_runtime: Any
    ) -> None:
        g = (
            GraphBuilder(S, start=["A"])
            .add_node("A", appender("A", next=garbage))
            .add_node("B", appender("B"))
            .compile()
        )
        rt = make_runtime(g)
        with pytest.raises(NodeOutputError) as info:
            rt.run_sync("t")
        err = info.value
        assert isinstance(err, NodeError)
        assert (err.node_id, err.step, err.code) == ("A", 0, "node-output-invalid")
        assert "NodeOutput(next" in str(err)
        assert rt.get_latest_store("t") is None  # the failed step committed nothing

    def test_router_raising(self, make_runtime: Any) -> None:
        def route(view: StoreView) -> list[str]:
            raise LookupError("no route")

        g = (
            GraphBuilder(S, start=["A"])
            .add_node("A", appender("A"))
            .add_router("A", route)
            .compile()
        )
        with pytest.raises(RouterError) as info:
            make_runtime(g).run_sync("t")
        assert isinstance(info.value.__cause__, LookupError)

    @pytest.mark.parametrize("source", ["next", "router", "spawn"])
    def test_unknown_node(self, source: str, make_runtime: Any) -> None:
        more: dict[str, Any] = {  # type: ignore[assignment]
            "next": {"next": ["Nope"]},
            "router": {},
            "spawn": {"spawn": [Spawn("Nope")]},
        }[source]
        b = GraphBuilder(S, start=["A"]).add_node("A", appender("A", **more))
        if source == "router":
            b.add_router("A", lambda view: ["Nope"])
        rt = make_runtime(b.compile())
        with pytest.raises(UnknownNodeError) as info:
            rt.run_sync("t")
        assert (info.value.node_id, info.value.step) == ("Nope", 0)
        assert rt.get_latest_store("t") is None  # the failed step committed nothing
