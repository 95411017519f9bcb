"""Golden-trace tests for the research workflow in workflow.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from syrupy.assertion import SnapshotAssertion
from workflow import Research, graph, search

from hive_core import Environment, Write
from hive_core.testing import ScriptedService, Trace, Tracer, node_input

QUESTION = {Research.question: "tides"}


def scripted_search() -> Environment:
    """A search service whose answers are given up front, one per call."""
    hits = ScriptedService(search=[["tide tables"], ["king tides"]])
    return Environment(extras={"search": hits})


class EchoSearch:
    """A search stand-in whose answer depends only on the query."""

    async def search(self, query: str) -> list[str]:
        return [f"top hit for {query}"]


def test_research_run_matches_snapshot(
    hive_trace: Tracer, snapshot: SnapshotAssertion
) -> None:
    trace = hive_trace(graph, QUESTION, environment=scripted_search())
    # Stored in __snapshots__/test_workflow/test_research_run_matches_snapshot.trace
    assert trace == snapshot
    assert trace.status == "interrupted"
    assert trace.nodes_run() == ["plan", "search", "search", "write"]


def test_approval_resumes_and_publishes(
    hive_trace: Tracer, snapshot: SnapshotAssertion
) -> None:
    hive_trace(graph, QUESTION, environment=scripted_search())
    resumed = hive_trace.resume("approved")
    assert resumed == snapshot(name="after_approval")
    assert resumed.store["verdict"] == "approved"


def test_research_is_deterministic(hive_determinism: Callable[..., Trace]) -> None:
    # A factory: every rerun gets a fresh environment.
    trace = hive_determinism(
        graph,
        QUESTION,
        environment=lambda: Environment(extras={"search": EchoSearch()}),
    )
    assert trace.status == "interrupted"


def test_search_node_alone() -> None:
    hits = ScriptedService(search=[["a hit"]])
    ctx = node_input(
        graph,
        local={Research.query: "tides today"},
        node_id="search",
        environment=Environment(extras={"search": hits}),
    )
    out = asyncio.run(search(ctx))
    assert out.writes == [Write(Research.findings, ["tides today: a hit"])]
    assert [call.args for call in hits.calls] == [("tides today",)]
