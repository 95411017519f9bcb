"""The engine workloads on Hive: graphs compiled once, ``Runtime.run_sync`` per call.

Workloads in ``async`` mode have ``async def`` nodes and are awaited the way an
async application would: ``await Runtime.invoke(...)`` on one event loop that lives
as long as the runner (``AsyncHiveRunner``), like LangGraph's ``ainvoke``. Workloads
in ``io`` mode are plain sync nodes whose workers also block in ``time.sleep``;
they are added with ``add_node`` defaults (what a user gets: a multi-task step of
sync nodes runs on the node thread pool) unless ``blocking=True`` is asked for. The
CPU-only fan-out's workers are declared ``cpu_only=True`` (they compute, they never
wait), which keeps them on the calling thread.

Every call runs on a new thread id (a thread id that has run before continues its
stored state); ``reset`` starts a new ``Runtime`` so that the states of earlier
calls, which a ``Runtime`` keeps in memory per thread, do not pile up across
batches. No checkpointer, no event listeners: the same as LangGraph's
``invoke`` without a checkpointer.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hive_core import (
    END,
    CompiledGraph,
    GraphBuilder,
    NodeInput,
    NodeOutput,
    Outcome,
    RunOptions,
    Runtime,
    Schema,
    Spawn,
    StoreView,
    Write,
    channel,
    reducers,
)

from .workloads_spec import IO_BLOCK_S, BenchmarkError, Concurrency, Workload

__all__ = [
    "AsyncHiveRunner",
    "FanoutState",
    "HiveRunner",
    "State",
    "build_graph",
    "hive_mode",
    "prepare",
]


class State(Schema):
    """``n`` (sum) and ``items`` (append), as in the LangGraph state."""

    n = channel(int, reducer=reducers.sum, update="multi")
    items = channel(list[int], reducer=reducers.append, update="multi")


class FanoutState(Schema):
    """``State`` plus the task-local index a spawned worker is started with."""

    n = channel(int, reducer=reducers.sum, update="multi")
    items = channel(list[int], reducer=reducers.append, update="multi")
    index = channel(int, scope="task_local")


def _add_one(ctx: NodeInput) -> NodeOutput:
    # a new output per call, as LangGraph's node returns a new dict per call
    return NodeOutput(writes=[Write(State.n, 1)])


async def _add_one_async(ctx: NodeInput) -> NodeOutput:
    return NodeOutput(writes=[Write(State.n, 1)])


def _node_names(count: int) -> list[str]:
    width = len(str(count - 1))
    return [f"n{i:0{width}d}" for i in range(count)]


def _loop_router(limit: int) -> Callable[[StoreView], Any]:
    again = ["A"]

    def route(view: StoreView) -> Any:
        return again if view.get(State.n) < limit else END

    return route


def _worker(workload: Workload, concurrency: Concurrency) -> Any:
    fs = FanoutState
    if workload.mode == "async":

        async def async_worker(ctx: NodeInput) -> NodeOutput:
            return NodeOutput(writes=[Write(fs.items, [ctx.store.get(fs.index)])])

        return async_worker
    if workload.mode == "io":

        def io_worker(ctx: NodeInput) -> NodeOutput:
            with concurrency:
                time.sleep(IO_BLOCK_S)  # a sync HTTP call, say
            return NodeOutput(writes=[Write(fs.items, [ctx.store.get(fs.index)])])

        return io_worker

    def worker(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(fs.items, [ctx.store.get(fs.index)])])

    return worker


def _fanout_graph(
    workload: Workload, concurrency: Concurrency, blocking: bool
) -> CompiledGraph:
    fs = FanoutState
    width = workload.size

    def dispatch(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(
            spawn=[Spawn("worker", {fs.index: i}) for i in range(width)], next=END
        )

    def join(ctx: NodeInput) -> NodeOutput:
        return NodeOutput(writes=[Write(fs.n, len(ctx.store.get(fs.items)))])

    # The workers' static edge to `join` mirrors LangGraph's `add_edge("worker",
    # "join")`: every worker task schedules `join`, the commit deduplicates graph
    # seeds, so `join` runs once, in the superstep after the workers.
    return (
        GraphBuilder(fs, start=["dispatch"])
        .add_node("dispatch", dispatch)
        .add_node(
            "worker",
            _worker(workload, concurrency),
            blocking=blocking,
            cpu_only=workload.mode == "sync" and not blocking,
        )
        .add_node("join", join)
        .add_edge("worker", "join")
        .compile()
    )


def build_graph(
    workload: Workload,
    *,
    blocking: bool = False,
    concurrency: Concurrency | None = None,
) -> tuple[CompiledGraph, Mapping[Any, Any]]:
    """The compiled graph of ``workload`` and the input every call passes.

    ``blocking`` adds the fan-out workers with ``blocking=True``; ``concurrency``
    counts the ``io`` workers inside their blocking call.
    """
    kind = workload.kind
    node = _add_one_async if workload.mode == "async" else _add_one
    if kind == "invoke":
        graph = GraphBuilder(State, start=["A"]).add_node("A", node).compile()
        return graph, {State.n: 0}
    if kind == "chain":
        names = _node_names(workload.size)
        builder = GraphBuilder(State, start=[names[0]])
        for name in names:
            builder.add_node(name, node)
        for a, b in itertools.pairwise(names):
            builder.add_edge(a, b)
        return builder.compile(), {State.n: 0}
    if kind == "loop":
        graph = (
            GraphBuilder(State, start=["A"])
            .add_node("A", node)
            .add_router("A", _loop_router(workload.size))
            .compile()
        )
        return graph, {State.n: 0}
    if kind == "fanout":
        tracker = concurrency if concurrency is not None else Concurrency()
        return _fanout_graph(workload, tracker, blocking), {FanoutState.n: 0}
    raise ValueError(f"unknown workload kind {kind!r}")


class HiveRunner:
    """``Runtime.run_sync`` on a fresh thread id per call."""

    engine = "hive"

    def __init__(
        self, graph: CompiledGraph, input: Mapping[Any, Any], options: RunOptions
    ) -> None:
        self.graph = graph
        self.input = input
        self.options = options
        self.runtime = Runtime(graph)
        self._ids: Iterator[int] = itertools.count()

    def reset(self) -> None:
        self.runtime = Runtime(self.graph)
        self._ids = itertools.count()

    def call(self) -> object:
        return self.runtime.run_sync(f"t{next(self._ids)}", self.input, self.options)

    def final_state(self, result: object) -> Mapping[str, Any]:
        if not isinstance(result, Outcome):
            raise BenchmarkError(f"hive returned {type(result).__name__}")
        if result.status != "finished":
            raise BenchmarkError(f"hive run ended {result.status!r}, not finished")
        return result.output


class AsyncHiveRunner(HiveRunner):
    """``await Runtime.invoke`` on one event loop kept for the runner's lifetime."""

    def __init__(
        self, graph: CompiledGraph, input: Mapping[Any, Any], options: RunOptions
    ) -> None:
        super().__init__(graph, input, options)
        self._loop = asyncio.new_event_loop()

    def call(self) -> object:
        coro = self.runtime.invoke(f"t{next(self._ids)}", self.input, self.options)
        return self._loop.run_until_complete(coro)

    def close(self) -> None:
        self._loop.close()


def hive_mode(graph: CompiledGraph, node: str) -> str:
    """How ``node`` runs as declared: ``async``, ``blocking`` (a worker thread),
    ``cpu_only`` (a sync function kept on the calling thread) or ``inline`` (a
    plain sync function, Hive's default: on the calling thread when it is its
    step's only task, on the node thread pool when the step has others)."""
    spec = graph.nodes[node]
    if spec.is_async:
        return "async"
    if spec.blocking:
        return "blocking"
    return "inline" if spec.pooled else "cpu_only"


def prepare(
    workload: Workload,
    *,
    blocking: bool = False,
    concurrency: Concurrency | None = None,
) -> HiveRunner:
    """Compile ``workload`` once; ``max_steps`` leaves a margin over its supersteps.

    An ``async`` workload gets an ``AsyncHiveRunner``; the others ``run_sync``.
    """
    graph, input = build_graph(workload, blocking=blocking, concurrency=concurrency)
    options = RunOptions(max_steps=workload.supersteps + 5)
    if workload.mode == "async":
        return AsyncHiveRunner(graph, input, options)
    return HiveRunner(graph, input, options)
