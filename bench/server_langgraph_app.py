"""The same 5-step graph written for LangGraph (served by ``langgraph dev``)."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph

STEPS = 5


class Five(TypedDict):
    count: int
    log: Annotated[list[int], operator.add]


def step(state: Five) -> dict[str, object]:
    count = state.get("count", 0) + 1
    return {"count": count, "log": [count]}


def route(state: Five) -> str:
    return "step" if state["count"] < STEPS else END


_builder = StateGraph(Five)
_builder.add_node("step", step)
_builder.add_edge(START, "step")
_builder.add_conditional_edges("step", route)
graph = _builder.compile()
