"""What a fan-out keeps alive, and what it derives only on demand.

A step's outputs (a dispatcher's spawn list, say) are released before the next
step runs, so a wide fan-out never holds two steps' worth of per-task objects; a
spawned task's fingerprint and id are derived only when something asks for the id,
and are then the bytes an eager derivation gives (``docs/performance.md``).
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import pytest

from hive_core import (
    END,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    RunOptions,
    Schema,
    Spawn,
    Write,
    channel,
    reducers,
)
from hive_core.graph._compiled import CompiledGraph
from hive_core.state._channels import Channel
from hive_core.state._store import fingerprint


class Fan(Schema):
    index = channel(int, scope="task_local")
    seen = channel(list[bool], reducer=reducers.append, update="multi")
    ids = channel(list[str], reducer=reducers.append, update="multi")


class Tracked(dict[Channel[Any] | str, object]):
    """A spawn's overlay that can be weakly referenced (a plain dict cannot)."""


def _released_graph(refs: list[weakref.ref[Tracked]], mode: str) -> CompiledGraph:
    def dispatch(ctx: NodeInput) -> NodeOutput:
        spawns = []
        for i in range(3):
            local = Tracked({"index": i})
            refs.append(weakref.ref(local))
            spawns.append(Spawn("worker", local))
        return NodeOutput(spawn=spawns, next=END)

    def observe() -> NodeOutput:
        return NodeOutput(writes=[Write(Fan.seen, [r() is None for r in refs])])

    def worker(ctx: NodeInput) -> NodeOutput:
        return observe()

    async def async_worker(ctx: NodeInput) -> NodeOutput:
        return observe()

    fn: Any = async_worker if mode == "async" else worker
    return (
        GraphBuilder(Fan, start=["dispatch"])
        .add_node("dispatch", dispatch)
        .add_node("worker", fn, cpu_only=mode == "cpu_only")
        .compile()
    )


@pytest.mark.parametrize("mode", ["cpu_only", "pooled", "async"])
def test_a_steps_spawn_lists_are_released_before_the_next_step_runs(
    make_runtime: Any, mode: str
) -> None:
    refs: list[weakref.ref[Tracked]] = []
    rt = make_runtime(_released_graph(refs, mode))
    out = rt.run_sync("t", {}) if mode != "async" else asyncio.run(rt.invoke("t", {}))
    assert out.status == "finished"
    # each of the three workers saw every overlay of the dispatcher's spawns gone
    # (the commit copied them into seeds; nothing held the spawn list any more)
    assert out.output["seen"] == [True] * 9


def _ids_graph() -> CompiledGraph:
    def dispatch(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(
            spawn=[Spawn("worker", {Fan.index: i}) for i in range(4)], next=END
        )

    def worker(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Fan.ids, [ctx.task_id])])

    return (
        GraphBuilder(Fan, start=["dispatch"])
        .add_node("dispatch", dispatch)
        .add_node("worker", worker)
        .compile()
    )


def test_spawned_task_ids_derived_on_demand_equal_the_traced_ones(
    make_runtime: Any, collect: Any
) -> None:
    graph = _ids_graph()
    traced = asyncio.run(collect(make_runtime(graph), "t"))
    started = [e.task_id for e in traced.of_kind("task_started") if e.step == 1]
    # an unobserved run derives each id when its node asks for it: same ids
    asked = make_runtime(graph).run_sync("t", {})
    assert asked.output["ids"] == started
    assert traced.outcome.output["ids"] == started
    assert len(set(started)) == 4  # the overlays differ, so do the fingerprints


def test_an_unobserved_fan_out_hashes_no_overlay(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []

    def counting(*args: Any) -> bytes:
        calls.append(args[1])
        return fingerprint(*args)

    monkeypatch.setattr("hive_core.runtime._state.fingerprint", counting)

    def dispatch(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(
            spawn=[Spawn("quiet", {Fan.index: i}) for i in range(5)], next=END
        )

    def quiet(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Fan.seen, [True])])

    graph = (
        GraphBuilder(Fan, start=["dispatch"])
        .add_node("dispatch", dispatch)
        .add_node("quiet", quiet)
        .compile()
    )
    out = make_runtime(graph).run_sync("t", {})
    assert out.output["seen"] == [True] * 5
    assert calls == []  # nobody asked for an id: no overlay was encoded or hashed
    # asking for one id derives that task's fingerprint only, once
    asked = make_runtime(_ids_graph()).run_sync("u", {})
    assert len(asked.output["ids"]) == 4
    assert calls == [{"index": i} for i in range(4)]


def _lanes_graph(started: list[int], both: asyncio.Event, hold: asyncio.Event) -> Any:
    def dispatch(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(
            spawn=[Spawn("worker", {Fan.index: i}) for i in range(6)], next=END
        )

    async def worker(ctx: NodeInput) -> NodeOutput:
        started.append(ctx.store.get(Fan.index))
        if len(started) == 2:
            both.set()
        await hold.wait()
        return NodeOutput(writes=[Write(Fan.seen, [True])])

    return (
        GraphBuilder(Fan, start=["dispatch"])
        .add_node("dispatch", dispatch)
        .add_node("worker", worker)
        .compile()
    )


def test_an_async_fan_out_wider_than_its_slots_starts_tasks_in_ordinal_order(
    make_runtime: Any,
) -> None:
    started: list[int] = []

    async def main() -> Any:
        both, hold = asyncio.Event(), asyncio.Event()
        rt = make_runtime(_lanes_graph(started, both, hold))
        run = asyncio.ensure_future(
            rt.invoke("t", {}, RunOptions(max_concurrent_tasks=2))
        )
        await both.wait()
        assert started == [0, 1]  # two slots: the others wait their turn
        hold.set()
        return await run

    out = asyncio.run(main())
    assert out.output["seen"] == [True] * 6
    assert started == list(range(6))


def test_a_cancel_from_outside_starts_no_queued_task(make_runtime: Any) -> None:
    started: list[int] = []

    async def main() -> None:
        both, hold = asyncio.Event(), asyncio.Event()
        rt = make_runtime(_lanes_graph(started, both, hold))
        run = asyncio.ensure_future(
            rt.invoke("t", {}, RunOptions(max_concurrent_tasks=2))
        )
        await both.wait()
        run.cancel()  # not the runtime's own cancel: e.g. a caller's timeout
        hold.set()  # a task started after the cancel would now run to its end
        with pytest.raises(asyncio.CancelledError):
            await run

    asyncio.run(main())
    assert started == [0, 1]  # the four queued tasks never started
