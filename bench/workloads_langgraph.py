"""The engine workloads on LangGraph: ``StateGraph`` compiled once, ``.invoke`` per call.

No checkpointer (so no thread id is needed and nothing is kept between calls),
``recursion_limit`` set just above the workload's supersteps. The state is a
``TypedDict`` with ``n: Annotated[int, operator.add]`` and
``items: Annotated[list[int], operator.add]``, the counterparts of Hive's sum and
append reducers.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from .workloads_spec import BenchmarkError, Workload

__all__ = ["LangGraphRunner", "State", "build_graph", "prepare"]


class State(TypedDict):
    n: Annotated[int, operator.add]
    items: Annotated[list[int], operator.add]


class WorkerInput(TypedDict):
    index: int


def _add_one(state: State) -> dict[str, Any]:
    return {"n": 1}


def _node_names(count: int) -> list[str]:
    width = len(str(count - 1))
    return [f"n{i:0{width}d}" for i in range(count)]


def _fanout(width: int) -> Any:
    def dispatch(state: State) -> dict[str, Any]:
        return {}

    def send_workers(state: State) -> list[Send]:
        return [Send("worker", {"index": i}) for i in range(width)]

    def worker(arg: WorkerInput) -> dict[str, Any]:
        return {"items": [arg["index"]]}

    def join(state: State) -> dict[str, Any]:
        return {"n": len(state["items"])}

    builder = StateGraph(State)
    builder.add_node("dispatch", dispatch)
    builder.add_node("worker", worker)  # type: ignore[arg-type]  # Send's own input
    builder.add_node("join", join)
    builder.add_edge(START, "dispatch")
    builder.add_conditional_edges("dispatch", send_workers, ["worker"])
    builder.add_edge("worker", "join")
    builder.add_edge("join", END)
    return builder.compile()


def build_graph(workload: Workload) -> Any:
    """The compiled graph of ``workload``."""
    kind = workload.kind
    builder = StateGraph(State)
    if kind == "invoke":
        builder.add_node("A", _add_one)
        builder.add_edge(START, "A")
        builder.add_edge("A", END)
        return builder.compile()
    if kind == "chain":
        names = _node_names(workload.size)
        for name in names:
            builder.add_node(name, _add_one)
        builder.add_edge(START, names[0])
        for a, b in itertools.pairwise(names):
            builder.add_edge(a, b)
        builder.add_edge(names[-1], END)
        return builder.compile()
    if kind == "loop":
        limit = workload.size

        def route(state: State) -> str:
            return "A" if state["n"] < limit else END

        builder.add_node("A", _add_one)
        builder.add_edge(START, "A")
        builder.add_conditional_edges("A", route, ["A", END])
        return builder.compile()
    if kind == "fanout":
        return _fanout(workload.size)
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


def prepare(workload: Workload) -> LangGraphRunner:
    """Compile ``workload`` once; ``recursion_limit`` leaves the same margin as Hive's
    ``max_steps``."""
    return LangGraphRunner(
        build_graph(workload),
        {"n": 0},
        {"recursion_limit": workload.supersteps + 5},
    )
