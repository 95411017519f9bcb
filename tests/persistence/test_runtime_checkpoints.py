"""Checkpoint policies, cold restore, resume, fork and external writes (docs/concepts/checkpoints.md)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import msgspec
import pytest
from _gates import until

from hive_core import (
    END,
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointNotFoundError,
    CheckpointPolicy,
    CheckpointStoreMissingError,
    CheckpointVersionMismatchError,
    CompiledGraph,
    GraphBuilder,
    InMemoryCheckpointStore,
    InterruptPendingError,
    NoCheckpointToResumeError,
    NodeInput,
    NodeOutput,
    NoInterruptToResumeError,
    ResumeInterruptMismatchError,
    ResumePayloadError,
    RunOptions,
    Runtime,
    Schema,
    TaskLocalWriteNotAllowedError,
    ThreadExistsError,
    Write,
    channel,
    reducers,
)
from hive_core.events import Event, trace_to_builtins
from hive_core.ids import checkpoint_id
from hive_core.persistence import Checkpoint
from hive_core.testing import SequentialIds

from .tiny_workflow import SEEN, Tiny, build_tiny

EVERY = RunOptions(checkpoint_policy=CheckpointPolicy.every(1))


def kinds(events: list[Event]) -> list[str]:
    return [e["kind"] for e in trace_to_builtins(events)]


async def traced(handle: Any) -> tuple[list[Event], Any]:
    events = [e async for e in handle.events]
    return events, await handle


class Counter(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")


def inc(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(Counter.n, 1)])


def looping(limit: int) -> CompiledGraph:
    g = GraphBuilder(Counter, start=["A"]).add_node("A", inc)
    g.add_router("A", lambda v: ["A"] if v.get(Counter.n) < limit else END)
    return g.compile()


class TestPolicies:
    def test_every_step_saves_after_each_step_with_next_step_index(self) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(looping(3), checkpoint_store=store, ids=SequentialIds())
        out = rt.run_sync("t", None, EVERY)
        history = asyncio.run(store.list_checkpoints("t"))
        assert [c.step_index for c in history] == [3, 2, 1]
        run_id = uuid.UUID(out.run_id or "")
        assert [c.id for c in history] == [checkpoint_id(run_id, s) for s in (3, 2, 1)]
        assert out.checkpoint_id == history[0].id

    def test_checkpoint_id_is_the_hcp1_layout(self) -> None:
        run_id = uuid.UUID(int=5)
        expected = hashlib.sha256(b"HCP1" + run_id.bytes + (7).to_bytes(4, "big"))
        assert checkpoint_id(run_id, 7) == expected.hexdigest()

    def test_every_n_saves_when_next_step_is_a_multiple(self) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(looping(7), checkpoint_store=store)
        rt.run_sync("t", None, RunOptions(checkpoint_policy=CheckpointPolicy.every(3)))
        steps = [c.step_index for c in asyncio.run(store.list_checkpoints("t"))]
        assert steps == [6, 3]

    def test_disabled_policy_still_saves_exactly_once_on_interrupt(
        self, tiny: CompiledGraph
    ) -> None:
        store = InMemoryCheckpointStore()
        at_interrupts = RunOptions(checkpoint_policy=CheckpointPolicy.on_interrupt())
        out = Runtime(tiny, checkpoint_store=store).run_sync("t", None, at_interrupts)
        assert out.status == "interrupted"
        history = asyncio.run(store.list_checkpoints("t"))
        assert [(c.step_index, c.has_interruption) for c in history] == [(3, True)]
        assert out.checkpoint_id == history[0].id

    def test_interrupt_without_store_fails_at_commit(self, tiny: CompiledGraph) -> None:
        rt = Runtime(tiny)
        with pytest.raises(CheckpointStoreMissingError):
            rt.run_sync("t")

    def test_policy_without_store_fails_before_step_zero(self) -> None:
        rt = Runtime(looping(3))

        async def go() -> list[Event]:
            h = rt.run("t", None, EVERY)
            seen: list[Event] = []
            with pytest.raises(CheckpointStoreMissingError):
                async for e in h.events:
                    seen.append(e)
            return seen

        assert kinds(asyncio.run(go())) == ["run_started"]
        assert rt.get_latest_store("t") is None


class TestColdRestore:
    def test_new_runtime_continues_from_the_store_with_the_same_run_id(self) -> None:
        store = InMemoryCheckpointStore()
        first = Runtime(looping(3), checkpoint_store=store, ids=SequentialIds())
        out1 = first.run_sync(
            "t",
            None,
            RunOptions(max_steps=2, checkpoint_policy=EVERY.checkpoint_policy),
        )
        assert out1.status == "out_of_steps"
        second = Runtime(looping(3), checkpoint_store=store)

        async def go() -> tuple[list[Event], Any]:
            return await traced(second.run("t", None, EVERY))

        events, out2 = asyncio.run(go())
        assert out2.run_id == out1.run_id
        assert out2.output == {"n": 3}
        names = kinds(events)
        assert names[:2] == ["run_started", "checkpoint_loaded"]
        loaded = trace_to_builtins(events)[1]
        assert loaded["checkpoint_id"] == out1.checkpoint_id

    def test_untracked_channels_reset_to_initial_on_load(
        self, tiny: CompiledGraph
    ) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(tiny, checkpoint_store=store)
        rt.run_sync("t")
        assert rt.get_state_sync("t").store.get(Tiny.scratch) == 7  # type: ignore[union-attr]
        cold = Runtime(tiny, checkpoint_store=store)
        snapshot = cold.get_state_sync("t")
        assert snapshot is not None
        assert snapshot.store.get(Tiny.scratch) == 0
        assert snapshot.store.get(Tiny.results) == [
            "WorkerA processed apple",
            "WorkerB processed banana",
        ]


class TestResume:
    def test_resume_delivers_payload_to_first_step_only_and_finishes(
        self, tiny: CompiledGraph
    ) -> None:
        store = InMemoryCheckpointStore()
        out = Runtime(tiny, checkpoint_store=store).run_sync("t")
        assert out.interrupt is not None and out.interrupt.payload == "review"
        cold = Runtime(tiny, checkpoint_store=store)
        done = cold.resume_sync("t", out.interrupt.id, "approved")
        assert done.status == "finished"
        assert done.output["results"][-1] == "finalized: approved"
        assert SEEN == [("Finalize", "approved")]

    def test_an_answered_interrupt_cannot_be_answered_again(
        self, tiny: CompiledGraph
    ) -> None:
        store = InMemoryCheckpointStore()
        out = Runtime(tiny, checkpoint_store=store).run_sync("t")
        assert out.interrupt is not None
        Runtime(tiny, checkpoint_store=store).resume_sync("t", out.interrupt.id, "a")
        latest = asyncio.run(store.load_latest("t"))
        assert latest is not None and latest.interruption is None  # saved anyway
        with pytest.raises(NoInterruptToResumeError):
            Runtime(tiny, checkpoint_store=store).resume_sync(
                "t", out.interrupt.id, "b"
            )
        assert SEEN == [("Finalize", "a")]

    def test_resume_events_and_cleared_interrupt_in_first_checkpoint(
        self, tiny: CompiledGraph
    ) -> None:
        store = InMemoryCheckpointStore()
        out = Runtime(tiny, checkpoint_store=store).run_sync("t")
        assert out.interrupt is not None
        rt = Runtime(tiny, checkpoint_store=store)

        async def go() -> tuple[list[Event], Any]:
            return await traced(rt.resume("t", out.interrupt.id, "ok", EVERY))  # type: ignore[union-attr]

        events, _ = asyncio.run(go())
        assert kinds(events)[:3] == ["run_started", "checkpoint_loaded", "run_resumed"]
        latest = asyncio.run(store.load_latest("t"))
        assert latest is not None and latest.step_index == 4
        assert latest.interruption is None  # cleared before that step's checkpoint

    def test_every_task_of_the_first_resumed_step_sees_resume(self) -> None:
        class S(Schema):
            log = channel(list[str], reducer=reducers.append, update="multi")
            resume_payload = str

        def ask(ctx: NodeInput) -> NodeOutput:
            return NodeOutput(interrupt="q", next=["B", "C"])

        def record(ctx: NodeInput) -> NodeOutput:
            r = ctx.resume
            text = f"{ctx.node_id}:{r.payload}:{r.node}" if r else f"{ctx.node_id}:-"
            return NodeOutput(writes=[Write(S.log, [text])])

        g = GraphBuilder(S, start=["A"]).add_node("A", ask)
        g.add_node("B", record).add_node("C", record).add_node("D", record)
        g.add_edge("B", "D")
        rt = Runtime(g.compile(), checkpoint_store=InMemoryCheckpointStore())
        out = rt.run_sync("t")
        assert out.interrupt is not None
        done = rt.resume_sync("t", out.interrupt.id, "yes")
        assert done.output["log"] == ["B:yes:A", "C:yes:A", "D:-"]

    def test_resume_errors_are_typed_and_change_nothing(
        self, tiny: CompiledGraph
    ) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(tiny, checkpoint_store=store)
        with pytest.raises(NoCheckpointToResumeError):
            rt.resume_sync("nobody", "x", "y")
        out = rt.run_sync("t")
        assert out.interrupt is not None
        before = asyncio.run(store.list_checkpoints("t"))
        with pytest.raises(ResumeInterruptMismatchError) as mismatch:
            rt.resume_sync("t", "not-the-id", "ok")
        assert mismatch.value.expected == out.interrupt.id
        assert mismatch.value.found == "not-the-id"
        with pytest.raises(ResumePayloadError) as bad:
            rt.resume_sync("t", out.interrupt.id, 42)
        assert bad.value.expected == "str"
        assert asyncio.run(store.list_checkpoints("t")) == before
        assert SEEN == []
        with pytest.raises(CheckpointStoreMissingError):
            Runtime(tiny).resume_sync("t", out.interrupt.id, "ok")

    def test_resume_without_pending_interrupt(self) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(looping(2), checkpoint_store=store)
        rt.run_sync("t", None, EVERY)
        with pytest.raises(NoInterruptToResumeError):
            rt.resume_sync("t", "x", "y")

    def test_run_with_pending_interrupt_raises_and_changes_nothing(
        self, tiny: CompiledGraph
    ) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(tiny, checkpoint_store=store)
        out = rt.run_sync("t")
        assert out.interrupt is not None
        before = rt.get_state_sync("t")
        with pytest.raises(InterruptPendingError) as err:
            rt.run_sync("t", {"results": ["more"]})
        assert err.value.interrupt_id == out.interrupt.id
        after = rt.get_state_sync("t")
        assert before is not None and after is not None
        assert after.store.to_dict() == before.store.to_dict()
        assert after.step_index == before.step_index

    def test_resume_on_empty_frontier_clears_and_finishes(self) -> None:
        class S(Schema):
            log = channel(list[str], reducer=reducers.append, update="multi")

        def ask_and_end(ctx: NodeInput) -> NodeOutput:
            return NodeOutput(interrupt="q", next=END)

        g = GraphBuilder(S, start=["A"]).add_node("A", ask_and_end).compile()
        store = InMemoryCheckpointStore()
        rt = Runtime(g, checkpoint_store=store)
        out = rt.run_sync("t")
        assert out.interrupt is not None

        async def go() -> tuple[list[Event], Any]:
            return await traced(rt.resume("t", out.interrupt.id, "late"))  # type: ignore[union-attr]

        events, done = asyncio.run(go())
        assert done.status == "finished"
        assert kinds(events) == [
            "run_started",
            "checkpoint_loaded",
            "run_resumed",
            "checkpoint_saved",
            "run_finished",
        ]
        latest = asyncio.run(store.load_latest("t"))
        assert latest is not None and latest.interruption is None


class TestDecodeValidation:
    def _saved(self, tiny: CompiledGraph) -> tuple[InMemoryCheckpointStore, Checkpoint]:
        store = InMemoryCheckpointStore()
        Runtime(tiny, checkpoint_store=store).run_sync("t")
        cp = asyncio.run(store.load_latest("t"))
        assert cp is not None
        return store, cp

    def _load_with(self, tiny: CompiledGraph, cp: Checkpoint) -> None:
        store = InMemoryCheckpointStore()
        asyncio.run(store.save(cp))
        Runtime(tiny, checkpoint_store=store).get_state_sync("t")

    def test_version_mismatch_names_both_versions(self, tiny: CompiledGraph) -> None:
        store, _ = self._saved(tiny)
        other = build_tiny()  # same shape ...
        g = GraphBuilder(Tiny, start=["Start"])
        for node in other.ir.nodes:
            g.add_node(node.id, other.nodes[node.id].fn)
        g.add_join_edge(["WorkerA", "WorkerB"], "Gate")  # ... but no Gate->Finalize
        changed = g.compile()
        with pytest.raises(CheckpointVersionMismatchError) as err:
            Runtime(changed, checkpoint_store=store).get_state_sync("t")
        assert err.value.found_graph == tiny.graph_version
        assert err.value.expected_graph == changed.graph_version

    def test_extra_global_channel_is_corrupt(self, tiny: CompiledGraph) -> None:
        _, cp = self._saved(tiny)
        bad = msgspec.structs.replace(cp, global_data={**cp.global_data, "x": b"1"})
        with pytest.raises(CheckpointCorruptError) as err:
            self._load_with(tiny, bad)
        assert err.value.field == "global_data"

    def test_missing_or_undecodable_channel(self, tiny: CompiledGraph) -> None:
        _, cp = self._saved(tiny)
        with pytest.raises(CheckpointDecodeError) as missing:
            self._load_with(tiny, msgspec.structs.replace(cp, global_data={}))
        assert missing.value.subject == "results"
        broken = msgspec.structs.replace(cp, global_data={"results": b"{not json"})
        with pytest.raises(CheckpointDecodeError) as undecodable:
            self._load_with(tiny, broken)
        assert undecodable.value.subject == "results"

    def test_fingerprint_length_and_mismatch(self, tiny: CompiledGraph) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(tiny, checkpoint_store=store)
        rt.run_sync(
            "t",
            None,
            RunOptions(max_steps=1, checkpoint_policy=EVERY.checkpoint_policy),
        )
        cp = asyncio.run(store.load_latest("t"))
        assert cp is not None and len(cp.frontier) == 2
        first = cp.frontier[0]
        short = msgspec.structs.replace(first, fingerprint=b"x" * 5)
        with pytest.raises(CheckpointCorruptError) as err:
            self._load_with(
                tiny, msgspec.structs.replace(cp, frontier=(short, cp.frontier[1]))
            )
        assert err.value.field == "frontier.fingerprint"
        swapped = msgspec.structs.replace(first, local={"item": b"cherry"})
        with pytest.raises(CheckpointCorruptError):
            self._load_with(
                tiny, msgspec.structs.replace(cp, frontier=(swapped, cp.frontier[1]))
            )
        global_local = msgspec.structs.replace(first, local={"results": b"[]"})
        with pytest.raises(CheckpointDecodeError):
            self._load_with(
                tiny,
                msgspec.structs.replace(cp, frontier=(global_local, cp.frontier[1])),
            )

    def test_join_barrier_keys_and_lists(self, tiny: CompiledGraph) -> None:
        _, cp = self._saved(tiny)
        jid = "join:WorkerA+WorkerB:Gate"
        assert cp.join_barriers == {jid: ()}
        for barriers in (
            {},
            {jid: (), "join:X:Y": ()},
            {jid: ("WorkerB", "WorkerA")},
            {jid: ("Start",)},
        ):
            with pytest.raises(CheckpointCorruptError) as err:
                self._load_with(
                    tiny, msgspec.structs.replace(cp, join_barriers=barriers)
                )
            assert err.value.field == "join_barriers"


class TestFork:
    def test_fork_carries_the_interrupt_and_can_be_answered_differently(
        self, tiny: CompiledGraph
    ) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(tiny, checkpoint_store=store)
        out = rt.run_sync("t")
        assert out.interrupt is not None and out.checkpoint_id is not None
        rt.resume_sync("t", out.interrupt.id, "approved")
        summary = rt.fork_sync("t", out.checkpoint_id, into="t-alt")
        assert summary.has_interruption
        expected_run = hashlib.sha256(
            b"HFORK_RUN1\x00t\x00t-alt\x00" + out.checkpoint_id.encode()
        ).digest()[:16]
        assert uuid.UUID(summary.run_id) == uuid.UUID(bytes=expected_run, version=5)
        assert summary.id == checkpoint_id(uuid.UUID(summary.run_id), 3)
        alt = Runtime(tiny, checkpoint_store=store).resume_sync(
            "t-alt", out.interrupt.id, "rejected"
        )
        assert alt.output["results"][-1] == "finalized: rejected"
        original = rt.get_state_sync("t")
        assert original is not None
        assert original.store.get(Tiny.results)[-1] == "finalized: approved"

    def test_fork_errors(self, tiny: CompiledGraph) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(tiny, checkpoint_store=store)
        out = rt.run_sync("t")
        assert out.checkpoint_id is not None
        with pytest.raises(CheckpointNotFoundError):
            rt.fork_sync("t", "nope", into="x")
        with pytest.raises(ThreadExistsError):
            rt.fork_sync("t", out.checkpoint_id, into="t")
        with pytest.raises(CheckpointStoreMissingError):
            Runtime(tiny).fork_sync("t", out.checkpoint_id, into="y")


class TestExternalWrites:
    def test_synthetic_step_events_and_forced_save(self) -> None:
        store = InMemoryCheckpointStore()
        rt = Runtime(looping(2), checkpoint_store=store)
        rt.run_sync("t")

        async def go() -> tuple[list[Event], Any]:
            return await traced(rt.apply_external_writes("t", [Write(Counter.n, 40)]))

        events, out = asyncio.run(go())
        assert out.output == {"n": 42}
        plain = trace_to_builtins(events)
        assert [e["kind"] for e in plain] == [
            "run_started",
            "step_started",
            "write_applied",
            "checkpoint_saved",
            "step_finished",
            "run_finished",
        ]
        assert plain[1]["frontier_count"] == 0 and plain[1]["step"] == 2
        latest = asyncio.run(store.load_latest("t"))
        assert latest is not None and latest.step_index == 3

    def test_task_local_and_pending_interrupt_are_rejected(
        self, tiny: CompiledGraph
    ) -> None:
        rt = Runtime(tiny, checkpoint_store=InMemoryCheckpointStore())
        with pytest.raises(TaskLocalWriteNotAllowedError):
            rt.apply_external_writes_sync("t", [Write(Tiny.item, "x")])
        rt.run_sync("t")
        with pytest.raises(InterruptPendingError):
            rt.apply_external_writes_sync("t", [Write(Tiny.results, ["x"])])


class TestCancelWhileQueued:
    def test_a_run_cancelled_while_queued_changes_nothing(self) -> None:
        class Q(Schema):
            log = channel(list[str], reducer=reducers.append, update="multi")

        gate = asyncio.Event()
        holding = asyncio.Event()

        async def slow(ctx: NodeInput) -> NodeOutput:
            holding.set()
            await gate.wait()
            return NodeOutput(writes=[Write(Q.log, ["first"])])

        rt = Runtime(GraphBuilder(Q, start=["A"]).add_node("A", slow).compile())

        async def go() -> tuple[Any, list[Event], Any]:
            first = rt.run("t", {"log": ["in-1"]})
            first_task = asyncio.ensure_future(first.outcome())
            await holding.wait()  # the first run holds the thread
            second = rt.run("t", {"log": ["in-2"]})
            events: list[Event] = []

            async def listen() -> None:
                events.extend([e async for e in second.events])

            listener = asyncio.ensure_future(listen())
            # the second run is queued behind it: one waiter on the thread
            await until(lambda: rt._turns.waiting("t") == 1)
            second.cancel()
            out2 = await second
            await listener
            gate.set()
            return await first_task, events, out2

        out1, events2, out2 = asyncio.run(go())
        assert out2.status == "cancelled"
        assert kinds(events2) == ["run_started", "run_cancelled"]
        assert out1.status == "finished"
        assert out1.output["log"] == ["in-1", "first"]  # the second input never landed
