"""The fan-out policy for sync nodes (``docs/concepts/execution.md``): two or more
plain sync nodes in one step run on the bounded node thread pool; ``cpu_only=True``
nodes, a step's only task and steps under a live event stream stay on the calling
thread; commits stay in ordinal order whatever order the threads finish in."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from hive_core import (
    END,
    DefinitionError,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    RunOptions,
    Runtime,
    Schema,
    Spawn,
    Write,
    channel,
    reducers,
)
from hive_core.events import trace_to_builtins
from hive_core.testing import SequentialIds

WIDTH = 4
WAIT_S = 10.0  # only reached if the workers were serialised: then the test fails


class Fan(Schema):
    index = channel(int, scope="task_local", initial=0)
    items = channel(list[int], reducer=reducers.append, update="multi")
    threads = channel(list[int], reducer=reducers.append, update="multi")


def _graph(worker: Any, *, cpu_only: bool = False) -> Any:
    def dispatch(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(
            spawn=[Spawn("worker", {Fan.index: i}) for i in range(WIDTH)], next=END
        )

    return (
        GraphBuilder(Fan, start=["dispatch"])
        .add_node("dispatch", dispatch)
        .add_node("worker", worker, cpu_only=cpu_only)
        .compile()
    )


def _reverse_order_worker(*, record: bool = True) -> Any:
    """Worker i finishes only after worker i + 1 did: the last one finishes first,
    which is possible only if all of them run at the same time."""
    done = [threading.Event() for _ in range(WIDTH)]

    def worker(ctx: NodeInput) -> NodeOutput:
        i = ctx.store.get(Fan.index)
        if i + 1 < WIDTH and not done[i + 1].wait(WAIT_S):
            raise AssertionError(f"worker {i + 1} never finished: serialised")
        done[i].set()
        writes = [Write(Fan.items, [i])]
        if record:
            writes.append(Write(Fan.threads, [threading.get_ident()]))
        return NodeOutput(writes=writes)

    return worker


def _plain_worker(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(
        writes=[
            Write(Fan.items, [ctx.store.get(Fan.index)]),
            Write(Fan.threads, [threading.get_ident()]),
        ]
    )


def test_sync_fan_out_overlaps_and_commits_in_ordinal_order() -> None:
    out = Runtime(_graph(_reverse_order_worker())).run_sync("t", None)
    assert out.status == "finished"
    assert out.output["items"] == list(range(WIDTH))
    assert threading.get_ident() not in out.output["threads"]


def test_the_trace_is_the_same_as_running_them_one_by_one() -> None:
    async def trace(graph: Any) -> list[dict[str, Any]]:
        rt = Runtime(graph, ids=SequentialIds())
        options = RunOptions(deterministic_token_streaming=True)
        handle = rt.run("t", None, options)
        events = [e async for e in handle.events]
        await handle
        return trace_to_builtins(events)

    def worker(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(Fan.items, [ctx.store.get(Fan.index)])])

    pooled = asyncio.run(trace(_graph(_reverse_order_worker(record=False))))
    inline = asyncio.run(trace(_graph(worker, cpu_only=True)))
    assert len(pooled) > 3 * WIDTH
    assert pooled == inline


def test_cpu_only_nodes_and_single_tasks_stay_on_the_calling_thread() -> None:
    me = threading.get_ident()
    out = Runtime(_graph(_plain_worker, cpu_only=True)).run_sync("t", None)
    assert out.output["threads"] == [me] * WIDTH

    single = (
        GraphBuilder(Fan, start=["worker"]).add_node("worker", _plain_worker).compile()
    )
    assert Runtime(single).run_sync("t", None).output["threads"] == [me]


def test_a_live_event_stream_keeps_sync_nodes_on_the_loop_thread() -> None:
    async def go() -> list[int]:
        handle = Runtime(_graph(_plain_worker)).run("t", None)
        _ = [e async for e in handle.events]
        out = await handle
        return list(out.output["threads"])

    seen: list[int] = []

    def runner() -> None:
        seen.append(threading.get_ident())
        seen.extend(asyncio.run(go()))

    thread = threading.Thread(target=runner)
    thread.start()
    thread.join()
    assert seen[1:] == [seen[0]] * WIDTH


def test_a_failing_pooled_node_fails_only_its_task() -> None:
    def worker(ctx: NodeInput) -> NodeOutput:
        if ctx.store.get(Fan.index) == 2:
            raise ValueError("boom")
        return _plain_worker(ctx)

    with pytest.raises(Exception, match="boom"):
        Runtime(_graph(worker)).run_sync("t", None)


def test_cpu_only_is_only_for_plain_sync_functions() -> None:
    async def anode(ctx: NodeInput) -> NodeOutput:
        return NodeOutput()

    with pytest.raises(DefinitionError, match="cpu_only"):
        GraphBuilder(Fan, start=["a"]).add_node("a", anode, cpu_only=True)
    with pytest.raises(DefinitionError, match="cpu_only"):
        GraphBuilder(Fan, start=["a"]).add_node(
            "a", _plain_worker, blocking=True, cpu_only=True
        )
