"""The engine workloads on LangGraph: ``StateGraph`` compiled once, ``.invoke`` per call.

No checkpointer (so no thread id is needed and nothing is kept between calls),
``recursion_limit`` set just above the workload's supersteps. The state is a
``TypedDict`` with ``n: Annotated[int, operator.add]`` and
``items: Annotated[list[int], operator.add]``, the counterparts of Hive's sum and
append reducers.

Workloads in ``async`` mode have ``async def`` nodes and are awaited with
``ainvoke`` on one event loop kept for the runner's lifetime
(``AsyncLangGraphRunner``); ``io`` workers block in ``time.sleep`` and run with
``invoke`` (LangGraph's sync API runs a multi-task superstep on a thread pool).
"""

from __future__ import annotations

import asyncio
import itertools
import operator
import time
from collections.abc import Mapping
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from .workloads_spec import IO_BLOCK_S, BenchmarkError, Concurrency, Workload

__all__ = [
    "AsyncLangGraphRunner",
    "LangGraphRunner",
    "State",
    "build_graph",
    "prepare",
]


class State(TypedDict):
    n: Annotated[int, operator.add]
    items: Annotated[list[int], operator.add]


class WorkerInput(TypedDict):
    index: int


def _add_one(state: State) -> dict[str, Any]:
    return {"n": 1}


async def _add_one_async(state: State) -> dict[str, Any]:
    return {"n": 1}


def _node_names(count: int) -> list[str]:
    width = len(str(count - 1))
    return [f"n{i:0{width}d}" for i in range(count)]


def _worker(workload: Workload, concurrency: Concurrency) -> Any:
    if workload.mode == "async":

        async def async_worker(arg: WorkerInput) -> dict[str, Any]:
            return {"items": [arg["index"]]}

        return async_worker
    if workload.mode == "io":

        def io_worker(arg: WorkerInput) -> dict[str, Any]:
            with concurrency:
                time.sleep(IO_BLOCK_S)
            return {"items": [arg["index"]]}

        return io_worker

    def worker(arg: WorkerInput) -> dict[str, Any]:
        return {"items": [arg["index"]]}

    return worker


def _fanout(workload: Workload, concurrency: Concurrency) -> Any:
    width = workload.size

    def dispatch(state: State) -> dict[str, Any]:
        return {}

    def send_workers(state: State) -> list[Send]:
        return [Send("worker", {"index": i}) for i in range(width)]

    worker = _worker(workload, concurrency)

    def join(state: State) -> dict[str, Any]:
        return {"n": len(state["items"])}

    builder = StateGraph(State)
    builder.add_node("dispatch", dispatch)
    builder.add_node("worker", worker)
    builder.add_node("join", join)
    builder.add_edge(START, "dispatch")
    builder.add_conditional_edges("dispatch", send_workers, ["worker"])
    builder.add_edge("worker", "join")
    builder.add_edge("join", END)
    return builder.compile()


def build_graph(workload: Workload, concurrency: Concurrency | None = None) -> Any:
    """The compiled graph of ``workload``."""
    kind = workload.kind
    node = _add_one_async if workload.mode == "async" else _add_one
    builder = StateGraph(State)
    if kind == "invoke":
        builder.add_node("A", node)
        builder.add_edge(START, "A")
        builder.add_edge("A", END)
        return builder.compile()
    if kind == "chain":
        names = _node_names(workload.size)
        for name in names:
            builder.add_node(name, node)
        builder.add_edge(START, names[0])
        for a, b in itertools.pairwise(names):
            builder.add_edge(a, b)
        builder.add_edge(names[-1], END)
        return builder.compile()
    if kind == "loop":
        limit = workload.size

        def route(state: State) -> str:
            return "A" if state["n"] < limit else END

        builder.add_node("A", node)
        builder.add_edge(START, "A")
        builder.add_conditional_edges("A", route, ["A", END])
        return builder.compile()
    if kind == "fanout":
        return _fanout(workload, concurrency or Concurrency())
    raise ValueError(f"unknown workload kind {kind!r}")


class LangGraphRunner:
    """``CompiledStateGraph.invoke`` with the same input per call."""

    engine = "langgraph"

    def __init__(self, graph: Any, input: Mapping[str, Any], config: Any) -> None:
        self.graph = graph
        self.input = input
        self.config = config

    def reset(self) -> None:
        pass  # no checkpointer: an invoke leaves nothing behind

    def call(self) -> object:
        return self.graph.invoke(self.input, self.config)

    def final_state(self, result: object) -> Mapping[str, Any]:
        if not isinstance(result, Mapping):
            raise BenchmarkError(f"langgraph returned {type(result).__name__}")
        return result


class AsyncLangGraphRunner(LangGraphRunner):
    """``await graph.ainvoke`` on one event loop kept for the runner's lifetime."""

    def __init__(self, graph: Any, input: Mapping[str, Any], config: Any) -> None:
        super().__init__(graph, input, config)
        self._loop = asyncio.new_event_loop()

    def call(self) -> object:
        coro = self.graph.ainvoke(self.input, self.config)
        return self._loop.run_until_complete(coro)

    def close(self) -> None:
        self._loop.close()


def prepare(
    workload: Workload, *, concurrency: Concurrency | None = None
) -> LangGraphRunner:
    """Compile ``workload`` once; ``recursion_limit`` leaves the same margin as Hive's
    ``max_steps``. An ``async`` workload gets an ``AsyncLangGraphRunner``."""
    cls = AsyncLangGraphRunner if workload.mode == "async" else LangGraphRunner
    return cls(
        build_graph(workload, concurrency),
        {"n": 0},
        {"recursion_limit": workload.supersteps + 5},
    )
