"""Golden traces of the interpreter: event order, task ids and outcomes per scenario.

Each test pins its run as a readable ``.trace`` snapshot (``Trace.to_text()``: the
outcome, one line per event, the final store; see ``docs/testing.md``) under
``__snapshots__/test_runtime_traces/``, and also asserts the behaviour the scenario
is about (values the trace cannot show, such as what a router saw, retry sleeps and
an error's cause, included), so a reviewer of a snapshot diff knows which rule moved.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from hive_core import (
    END,
    GraphBuilder,
    NodeError,
    NodeInput,
    NodeOutput,
    RetryPolicy,
    RunOptions,
    Runtime,
    Schema,
    Spawn,
    StoreView,
    UpdatePolicyViolationError,
    Utf8Codec,
    Write,
    channel,
    reducers,
)
from hive_core.events import ModelToken
from hive_core.runtime._commit import commit_step
from hive_core.runtime._plan import plan_tasks
from hive_core.runtime._state import RunIds, Seed
from hive_core.testing import FakeClock, Trace


class Log(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    count = channel(int, reducer=reducers.sum, update="multi")
    choice = channel(str)
    draft = channel(str)


class Work(Schema):
    log = channel(list[str], reducer=reducers.append, update="multi")
    count = channel(int, reducer=reducers.sum, update="multi")
    item = channel(str, scope="task_local", codec=Utf8Codec())


def appender(name: str, **more: Any) -> Any:
    """A sync node appending ``name`` to ``log`` (plus any extra output fields)."""

    def fn(inp: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Log.log, [name])], **more)

    return fn


def async_appender(name: str, delay: float = 0.0) -> Any:
    async def fn(inp: NodeInput) -> NodeOutput:
        await asyncio.sleep(delay)
        return NodeOutput(writes=[Write(Log.log, [name])])

    return fn


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def as_trace(rt: Runtime, got: Any) -> Trace:
    """The collected run as a ``Trace``, with the thread's committed store."""
    store = rt.get_latest_store("t")
    return Trace(
        events=got.events,
        store=store.to_dict() if store is not None else {},
        outcome=got.outcome,
        error=got.error,
    )


class TestLinearChain:
    def test_trace(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        g = (
            GraphBuilder(Log, start=["A"])
            .add_node("A", appender("A"))
            .add_node("B", appender("B"))
            .add_node("C", appender("C"))
            .add_edge("A", "B")
            .add_edge("B", "C")
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t", {"log": ["in"]}))
        assert got.outcome.status == "finished"
        assert got.outcome.output["log"] == ["in", "A", "B", "C"]
        assert got.kinds == ["run_started"] + [
            "step_started",
            "task_started",
            "task_finished",
            "write_applied",
            "step_finished",
        ] * 3 + ["run_finished"]
        assert [e.index for e in got.events] == list(range(len(got.events)))
        assert as_trace(rt, got) == snapshot(name="linear_chain")


class TestRouterBranch:
    def test_trace(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        def decide(view: StoreView) -> list[str]:
            return ["R"] if view.get(Log.choice) == "right" else ["L"]

        g = (
            GraphBuilder(Log, start=["A"])
            .add_node(
                "A",
                lambda inp: NodeOutput(
                    writes=[Write(Log.log, ["A"]), Write(Log.choice, "right")]
                ),
            )
            .add_node("L", appender("L"))
            .add_node("R", appender("R"))
            .add_router("A", decide)
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t"))
        assert got.outcome.output["log"] == ["A", "R"]
        assert [e.node for e in got.of_kind("task_started")] == ["A", "R"]
        assert as_trace(rt, got) == snapshot(name="router_branch")


class TestFanOutJoin:
    def test_trace(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        g = (
            GraphBuilder(Log, start=["A"])
            .add_node("A", appender("A"))
            .add_node("B", async_appender("B", delay=0.003))  # finishes last
            .add_node("C", async_appender("C"))
            .add_node("D", appender("D"))
            .add_edge("A", "B")
            .add_edge("A", "C")
            .add_join_edge(["C", "B"], "D")
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t"))
        assert got.outcome.output["log"] == ["A", "B", "C", "D"]
        started = [(e.step, e.ordinal, e.node) for e in got.of_kind("task_started")]
        assert started == [(0, 0, "A"), (1, 0, "B"), (1, 1, "C"), (2, 0, "D")]
        assert as_trace(rt, got) == snapshot(name="fan_out_join")


class TestSpawnOverlays:
    def test_trace(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        def reader(name: str) -> Any:
            def fn(inp: NodeInput) -> NodeOutput:
                return NodeOutput(
                    writes=[Write(Work.log, [f"{name}:{inp.store.get(Work.item)}"])]
                )

            return fn

        def fan(inp: NodeInput) -> NodeOutput:
            return NodeOutput(
                writes=[Write(Work.log, ["A"])],
                spawn=[Spawn("W", {Work.item: "x"}), Spawn("W", {"item": "y"})],
            )

        g = (
            GraphBuilder(Work, start=["A"])
            .add_node("A", fan)
            .add_node("B", reader("B"))
            .add_node("W", reader("W"))
            .add_node("X", reader("X"))
            .add_edge("A", "B")
            .add_edge("W", "X")
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t"))
        # spawned values reach their own task only; edges carry no overlay; the two
        # W tasks route to X, which is deduplicated to one graph seed
        assert got.outcome.output["log"] == ["A", "B:", "W:x", "W:y", "X:"]
        step1 = [e for e in got.of_kind("task_started") if e.step == 1]
        assert [e.node for e in step1] == ["B", "W", "W"]
        assert len({e.task_id for e in step1}) == 3  # fingerprints differ
        assert as_trace(rt, got) == snapshot(name="spawn_overlays")


class TestRouterFreshRead:
    def test_router_sees_own_writes_only(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        saw: dict[str, Any] = {}

        async def a(inp: NodeInput) -> NodeOutput:
            await asyncio.sleep(0.003)  # completes after B
            return NodeOutput(
                writes=[
                    Write(Work.log, ["A1"]),
                    Write(Work.count, 1),
                    Write(Work.log, ["A2"]),
                    Write(Work.item, "mine"),
                ]
            )

        async def b(inp: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(Work.log, ["B"]), Write(Work.count, 10)])

        def route(view: StoreView) -> list[str]:
            saw["router"] = {
                "log": view.get(Work.log),
                "count": view.get(Work.count),
                "item": view.get(Work.item),
            }
            return ["Z"]

        def z(inp: NodeInput) -> None:
            saw["z"] = {
                "log": inp.store.get(Work.log),
                "count": inp.store.get(Work.count),
                "item": inp.store.get(Work.item),
            }

        g = (
            GraphBuilder(Work, start=["A", "B"])
            .add_node("A", a)
            .add_node("B", b)
            .add_node("Z", z)
            .add_router("A", route)
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t", {"log": ["in"], "count": 5}))
        assert saw["router"] == {"log": ["in", "A1", "A2"], "count": 6, "item": "mine"}
        assert saw["z"] == {"log": ["in", "A1", "A2", "B"], "count": 16, "item": ""}
        assert as_trace(rt, got) == snapshot(name="router_fresh_read")


class TestJoinBarrierEdgeCases:
    def test_target_runs_early_partial_barrier_kept(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        # B -> C and B -> J statically; join(B, C) -> J. J runs in step 1 through
        # the static edge with the barrier at {B}; that must not reset it, so C's
        # contribution in step 1 completes it and J runs again in step 2.
        g = (
            GraphBuilder(Log, start=["B"])
            .add_node("B", appender("B"))
            .add_node("C", appender("C"))
            .add_node("J", appender("J"))
            .add_edge("B", "C")
            .add_edge("B", "J")
            .add_join_edge(["B", "C"], "J")
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t"))
        assert got.outcome.output["log"] == ["B", "C", "J", "J"]
        started = [(e.step, e.node) for e in got.of_kind("task_started")]
        assert started == [(0, "B"), (1, "C"), (1, "J"), (2, "J")]
        assert as_trace(rt, got) == snapshot(name="join_target_runs_early")

    def test_target_and_parents_in_one_step_refill(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        # Step 0: B, C fill the barrier and route to themselves. Step 1: B, C and J
        # run together: J consumes the full barrier, B and C refill it, so J is
        # scheduled again for step 2.
        def again(name: str) -> Any:
            def fn(inp: NodeInput) -> NodeOutput:
                return NodeOutput(
                    writes=[Write(Log.log, [name])],
                    next=[name] if inp.step == 0 else END,
                )

            return fn

        g = (
            GraphBuilder(Log, start=["B", "C"])
            .add_node("B", again("B"))
            .add_node("C", again("C"))
            .add_node("J", appender("J"))
            .add_join_edge(["B", "C"], "J")
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t"))
        started = [(e.step, e.node) for e in got.of_kind("task_started")]
        assert started == [(0, "B"), (0, "C"), (1, "B"), (1, "C"), (1, "J"), (2, "J")]
        assert got.outcome.output["log"] == ["B", "C", "B", "C", "J", "J"]
        assert as_trace(rt, got) == snapshot(name="join_consumed_then_refilled")

    def test_repeated_contributions_schedule_once(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        # Step 1 runs C (graph) and B twice (spawns): the barrier fills once, so J
        # is scheduled once, not once per contributing task.
        g = (
            GraphBuilder(Log, start=["A"])
            .add_node("A", appender("A", spawn=[Spawn("B"), Spawn("B")]))
            .add_node("B", appender("B"))
            .add_node("C", appender("C"))
            .add_node("J", appender("J"))
            .add_edge("A", "C")
            .add_join_edge(["B", "C"], "J")
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t"))
        started = [(e.step, e.node) for e in got.of_kind("task_started")]
        assert started == [(0, "A"), (1, "C"), (1, "B"), (1, "B"), (2, "J")]
        assert as_trace(rt, got) == snapshot(name="join_repeated_contributions")

    def test_full_barrier_with_target_not_run_is_not_rescheduled(
        self, make_runtime: Any
    ) -> None:
        """Commit-level: a barrier already full (its target still pending) does not
        schedule the target again when the parents contribute once more."""
        g = (
            GraphBuilder(Log, start=["B", "C"])
            .add_node("B", appender("B"))
            .add_node("C", appender("C"))
            .add_node("J", appender("J"))
            .add_join_edge(["B", "C"], "J")
            .compile()
        )
        rt = make_runtime(g)
        jid = g.join_ids[0]
        base = rt._fresh_state()
        ctx = rt._ctx

        def commit(barrier: frozenset[str]) -> dict[str, Any]:
            state = base.replace(
                frontier=(Seed("B"), Seed("C")), barriers={jid: barrier}
            )
            ids = RunIds(
                state.run_id.bytes, g.schema, ctx.initial, ctx.empty_fingerprint
            )
            tasks = plan_tasks(g, state, ids)
            outputs = [NodeOutput(), NodeOutput()]
            res = commit_step(g, state, tasks, outputs, ctx.initial)
            return {
                "frontier": [
                    {"node": s.node, "is_join": s.is_join, "local": dict(s.local)}
                    for s in res.frontier
                ],
                "barrier": sorted(res.barriers[jid]),
            }

        filled = commit(frozenset())
        already_full = commit(frozenset({"B", "C"}))
        assert filled == {
            "frontier": [{"node": "J", "is_join": True, "local": {}}],
            "barrier": ["B", "C"],
        }
        assert already_full == {"frontier": [], "barrier": ["B", "C"]}


class TestFailingTask:
    def test_siblings_finish_and_smallest_ordinal_wins(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        finished: list[str] = []

        # completion order is forced to C, B, A (the reverse of ordinal order)
        gone = {name: asyncio.Event() for name in "ABC"}

        async def ok(inp: NodeInput) -> NodeOutput:
            await gone["B"].wait()
            finished.append("A")
            return NodeOutput(writes=[Write(Log.log, ["A"])])

        async def boom_late(inp: NodeInput) -> NodeOutput:
            await gone["C"].wait()
            finished.append("B")
            gone["B"].set()
            raise ValueError("boom-b")

        async def boom_early(inp: NodeInput) -> NodeOutput:
            finished.append("C")
            gone["C"].set()
            raise KeyError("boom-c")

        g = (
            GraphBuilder(Log, start=["A", "B", "C"])
            .add_node("A", ok)
            .add_node("B", boom_late)
            .add_node("C", boom_early)
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t", {"log": ["in"]}))
        assert finished == ["C", "B", "A"]  # C failed first, A still ran to the end
        err = got.error
        assert isinstance(err, NodeError)
        assert got.stream_error is err
        assert (err.node_id, err.step, err.attempts) == ("B", 0, 1)
        assert isinstance(err.__cause__, ValueError)
        assert err.task_id == got.of_kind("task_started")[1].task_id
        assert got.kinds == [
            "run_started",
            "step_started",
            "task_started",
            "task_started",
            "task_started",
            "task_finished",
            "task_failed",
            "task_failed",
        ]
        assert [e.error for e in got.of_kind("task_failed")] == [
            "ValueError",
            "KeyError",
        ]
        assert rt.get_latest_store("t") is None  # nothing committed, input included
        assert as_trace(rt, got) == snapshot(name="failing_task")


class TestFailingCommit:
    def test_single_policy_violation_commits_nothing(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        def first(inp: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(Log.draft, "v0"), Write(Log.log, ["S"])])

        def writer(name: str) -> Any:
            def fn(inp: NodeInput) -> NodeOutput:
                return NodeOutput(
                    writes=[Write(Log.log, [name]), Write(Log.draft, f"from {name}")]
                )

            return fn

        g = (
            GraphBuilder(Log, start=["S"])
            .add_node("S", first)
            .add_node("A", writer("A"))
            .add_node("B", writer("B"))
            .add_edge("S", "A")
            .add_edge("S", "B")
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t"))
        err = got.error
        assert isinstance(err, UpdatePolicyViolationError)
        assert got.stream_error is err
        assert (err.channel_id, err.write_count, err.step) == ("draft", 2, 1)
        assert err.__cause__ is None
        store = rt.get_latest_store("t")
        assert store.get(Log.draft) == "v0"
        assert store.get(Log.log) == ["S"]
        assert got.kinds[-4:] == [
            "task_started",
            "task_started",
            "task_finished",
            "task_finished",
        ]
        assert as_trace(rt, got) == snapshot(name="failing_commit")


class TestCancellation:
    def test_mid_step(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        cancelled: list[str] = []

        async def main() -> Any:
            gate = asyncio.Event()
            running: list[str] = []

            def waiter(name: str) -> Any:
                async def fn(inp: NodeInput) -> NodeOutput:
                    running.append(name)
                    try:
                        await gate.wait()
                    except asyncio.CancelledError:
                        cancelled.append(name)
                        raise
                    return NodeOutput(writes=[Write(Log.log, [name])])

                return fn

            g = (
                GraphBuilder(Log, start=["A", "B"])
                .add_node("A", waiter("A"))
                .add_node("B", waiter("B"))
                .compile()
            )

            async def on_event(ev: Any, handle: Any) -> None:
                if ev.ordinal == 1 and type(ev).__name__ == "TaskStarted":
                    while len(running) < 2:
                        await asyncio.sleep(0)
                    handle.cancel()

            rt = make_runtime(g)
            got = await collect(rt, "t", {"log": ["in"]}, on_event=on_event)
            return rt, got

        rt, got = run(main())
        assert got.error is None and got.stream_error is None
        assert got.outcome.status == "cancelled"
        assert got.outcome.output["log"] == ["in"]
        assert sorted(cancelled) == ["A", "B"]
        assert got.kinds[-4:] == [
            "task_started",
            "task_failed",
            "task_failed",
            "run_cancelled",
        ]
        assert [e.error for e in got.of_kind("task_failed")] == ["CancelledError"] * 2
        assert "write_applied" not in got.kinds
        assert rt.get_latest_store("t").get(Log.log) == ["in"]
        assert as_trace(rt, got) == snapshot(name="cancel_mid_step")

    def test_between_steps(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        g = (
            GraphBuilder(Log, start=["A"])
            .add_node("A", appender("A"))
            .add_node("B", appender("B"))
            .add_edge("A", "B")
            .compile()
        )

        def on_event(ev: Any, handle: Any) -> None:
            if type(ev).__name__ == "StepFinished":
                handle.cancel()

        rt = make_runtime(g)
        got = run(collect(rt, "t", on_event=on_event))
        assert got.error is None
        assert got.outcome.status == "cancelled"
        assert got.outcome.output["log"] == ["A"]  # step 0 committed, B never ran
        assert got.kinds[-2:] == ["step_finished", "run_cancelled"]
        assert "task_failed" not in got.kinds
        assert as_trace(rt, got) == snapshot(name="cancel_between_steps")

    def test_node_raising_cancelled_error_fails_its_task(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        async def rude(inp: NodeInput) -> NodeOutput:
            raise asyncio.CancelledError

        g = (
            GraphBuilder(Log, start=["A", "B"])
            .add_node("A", async_appender("A"))
            .add_node("B", rude)
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t"))
        assert got.outcome is None
        assert isinstance(got.error, NodeError)
        assert got.error.node_id == "B"
        assert isinstance(got.error.__cause__, asyncio.CancelledError)
        assert [e.error for e in got.of_kind("task_failed")] == ["CancelledError"]
        assert "run_cancelled" not in got.kinds
        assert as_trace(rt, got) == snapshot(name="node_raises_cancelled_error")


class TestOutOfSteps:
    def test_trace(
        self,
        make_runtime: Any,
        collect: Any,
        snapshot: SnapshotAssertion,
    ) -> None:
        g = (
            GraphBuilder(Log, start=["A"])
            .add_node("A", appender("A"))
            .add_node("B", appender("B"))
            .add_node("C", appender("C"))
            .add_edge("A", "B")
            .add_edge("B", "C")
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t", None, RunOptions(max_steps=2)))
        assert got.outcome.status == "out_of_steps"
        assert got.outcome.max_steps == 2
        assert got.outcome.output["log"] == ["A", "B"]
        assert got.kinds[-2:] == ["step_finished", "run_finished"]
        assert as_trace(rt, got) == snapshot(name="out_of_steps")


class TestRetries:
    POLICY = RetryPolicy(max_attempts=4, initial_delay=0.5, factor=3.0, max_delay=2.0)

    def test_success_on_third_attempt(
        self,
        make_runtime: Any,
        collect: Any,
        fake_clock: FakeClock,
        snapshot: SnapshotAssertion,
    ) -> None:
        attempts: list[int] = []

        def flaky(inp: NodeInput) -> NodeOutput:
            attempts.append(len(attempts) + 1)
            inp.emit(ModelToken(f"attempt {len(attempts)}"))
            if len(attempts) < 3:
                raise ConnectionError(f"try {len(attempts)}")
            return NodeOutput(writes=[Write(Log.log, [f"ok after {len(attempts)}"])])

        g = (
            GraphBuilder(Log, start=["F"])
            .add_node("F", flaky, retry_policy=self.POLICY)
            .compile()
        )
        opts = RunOptions(deterministic_token_streaming=True)
        rt = make_runtime(g)
        got = run(collect(rt, "t", None, opts))
        assert attempts == [1, 2, 3]
        assert fake_clock.sleeps == [0.5, 1.5]  # min(2.0, 0.5 * 3 ** (a - 1))
        assert got.outcome.output["log"] == ["ok after 3"]
        # the failed attempts' buffered stream events are thrown away
        assert [e.text for e in got.of_kind("model_token")] == ["attempt 3"]
        assert as_trace(rt, got) == snapshot(name="retry_success")

    def test_exhausted(
        self,
        make_runtime: Any,
        collect: Any,
        fake_clock: FakeClock,
        snapshot: SnapshotAssertion,
    ) -> None:
        def broken(inp: NodeInput) -> NodeOutput:
            raise ConnectionError("down")

        g = (
            GraphBuilder(Log, start=["F"])
            .add_node("F", broken, retry_policy=self.POLICY)
            .compile()
        )
        rt = make_runtime(g)
        got = run(collect(rt, "t"))
        err = got.error
        assert isinstance(err, NodeError)
        assert err.attempts == 4
        assert isinstance(err.__cause__, ConnectionError)
        assert fake_clock.sleeps == [0.5, 1.5, 2.0]  # the last one capped
        assert as_trace(rt, got) == snapshot(name="retry_exhausted")


@pytest.mark.parametrize("kind", ["sync", "async", "blocking"])
def test_node_cancelled_error_is_a_node_failure_for_every_node_kind(
    kind: str, make_runtime: Any
) -> None:
    """Not a snapshot: the same rule holds for inline, async and thread nodes."""

    def sync_rude(inp: NodeInput) -> NodeOutput:
        raise asyncio.CancelledError

    async def async_rude(inp: NodeInput) -> NodeOutput:
        raise asyncio.CancelledError

    b = GraphBuilder(Log, start=["A"])
    if kind == "async":
        b.add_node("A", async_rude)
    else:
        b.add_node("A", sync_rude, blocking=kind == "blocking")
    rt = make_runtime(b.compile())
    with pytest.raises(NodeError) as info:
        rt.run_sync("t")
    assert isinstance(info.value.__cause__, asyncio.CancelledError)
