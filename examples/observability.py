"""An agent run observed three ways: Prometheus metrics, a circuit breaker failing
over to a backup provider, and an HTML page of the run.

The primary provider is down; its ``CircuitBreaker`` opens after two failures and
the ``FallbackClient`` answers from the backup. ``PrometheusMetrics`` counts the
calls by provider, and ``render_trace_html`` writes a self-contained page of the
run (open it in a browser; nothing is fetched). Everything is scripted and offline,
and prints the same lines every time.

Run it with ``python examples/observability.py [--out run.html]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from prometheus_client import generate_latest

from hive_core import Environment, InMemoryCheckpointStore, RunOptions, Runtime
from hive_core.events import Event
from hive_core.models import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    CircuitBreaker,
    FallbackClient,
    ScriptedModelClient,
    StreamChunk,
    ToolCall,
    ToolRegistry,
)
from hive_core.observability import PrometheusMetrics
from hive_core.testing import FakeClock, SequentialIds, save_trace
from hive_core.viewer import render_trace_html
from hive_dsl import AgentState, tool_calling_agent


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Down:
    """A provider that is unreachable."""

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise ConnectionError("primary is down")

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamChunk]:
        raise ConnectionError("primary is down")


async def run(out: Path) -> None:
    clock = FakeClock()
    metrics = PrometheusMetrics()
    primary = CircuitBreaker(
        Down(), provider="primary", failure_threshold=2, cooldown_s=30, clock=clock,
        on_change=[metrics.breaker_changed],
    )  # fmt: skip
    backup = CircuitBreaker(
        ScriptedModelClient(
            [
                ChatMessage.assistant(
                    "a0",
                    "",
                    (ToolCall(id="c1", name="add", arguments_json='{"a":2,"b":3}'),),
                ),
                "2 + 3 is 5.",
            ]
        ),
        provider="backup",
        clock=clock,
    )
    runtime = Runtime(
        tool_calling_agent(model="tiny", tools=ToolRegistry([add])),
        environment=Environment(
            model=FallbackClient([primary, backup]), observer=metrics, clock=clock
        ),
        checkpoint_store=InMemoryCheckpointStore(),
        ids=SequentialIds(),
    )
    handle = runtime.run("demo", "What is 2 + 3?", RunOptions(debug_payloads=True))
    events: list[Event] = [ev async for ev in handle.events]
    outcome = await handle
    print("answer:", outcome.get(AgentState.final_answer))
    print("primary breaker:", primary.state)
    wanted = ("hive_model_calls_total", "hive_model_breaker_state", "hive_runs_total")
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith(wanted):
            print(line)
    trace = out.with_suffix(".jsonl")
    save_trace(trace, events)
    page = render_trace_html(trace, graph=runtime.graph, title="demo run")
    out.write_text(page, encoding="utf-8")
    steps = sum(1 for ev in events if type(ev).__name__ == "StepStarted")
    print(f"wrote an HTML page of {steps} steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where to write the HTML page")
    args = parser.parse_args()
    if args.out is not None:
        asyncio.run(run(args.out))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp) / "run.html"))


if __name__ == "__main__":
    main()
