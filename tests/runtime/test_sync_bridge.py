"""``run_sync`` of a graph that awaits (``hive_core/_bridge.py``): on the main
thread one event loop serves every call, yet each call behaves like a fresh
``asyncio.Runner``: its own copy of the caller's context, and whatever it left
running is cancelled when it returns."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from hive_core import (
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Runtime,
    Schema,
    Write,
    channel,
    reducers,
)

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


class S(Schema):
    n = channel(int, reducer=reducers.sum, update="multi")


def test_main_thread_calls_share_one_loop_and_stay_isolated() -> None:
    loops: list[asyncio.AbstractEventLoop] = []
    seen: list[str] = []
    leftovers: list[asyncio.Task[None]] = []

    async def node(ctx: NodeInput) -> NodeOutput:
        loops.append(asyncio.get_running_loop())
        seen.append(VAR.get())
        VAR.set("set by a node")
        leftovers.append(asyncio.get_running_loop().create_task(asyncio.sleep(3600)))
        return NodeOutput(writes=[Write(S.n, 1)])

    rt = Runtime(GraphBuilder(S, start=["a"]).add_node("a", node).compile())
    assert threading.current_thread() is threading.main_thread()
    for i in range(3):
        assert rt.run_sync(f"t{i}", None).output["n"] == 1
        assert leftovers[-1].cancelled()
    assert loops[0] is loops[1] is loops[2]
    assert not loops[0].is_closed()
    assert seen == ["unset"] * 3
    assert VAR.get() == "unset"


def test_other_threads_get_a_fresh_loop_per_call() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def node(ctx: NodeInput) -> NodeOutput:
        loops.append(asyncio.get_running_loop())
        return NodeOutput(writes=[Write(S.n, 1)])

    rt = Runtime(GraphBuilder(S, start=["a"]).add_node("a", node).compile())

    def calls() -> None:
        rt.run_sync("x", None)
        rt.run_sync("y", None)

    thread = threading.Thread(target=calls)
    thread.start()
    thread.join()
    assert len(loops) == 2
    assert loops[0].is_closed() and loops[1].is_closed()
