"""Machinery behind ``testing.Tracer`` and ``testing.check_determinism``.

Collecting a run's events without losing them to the run's error, preparing the
environment (a fake clock unless the caller chose a clock), forcing task-ordered
stream events, and copying a compiled graph with every node wrapped in random
delays so tasks of one step finish in a shuffled order.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Mapping

import attrs

from ..environment import Clock, Environment, SystemClock
from ..events import Event
from ..graph._compiled import CompiledGraph, NodeSpec
from ..nodes import NodeInput, NodeOutput
from ..run_types import Outcome, RunOptions
from ..runtime import RunHandle, Runtime
from ._trace import Trace

__all__ = [
    "MAX_DELAY",
    "collect",
    "finish",
    "prepare_environment",
    "shuffled_graph",
    "trace_options",
]

MAX_DELAY = 0.002
"""Upper bound (seconds) of each random delay before and after a node call."""


def prepare_environment(environment: Environment | None, clock: Clock) -> Environment:
    """``environment`` with ``clock`` in place of the real clock."""
    if environment is None:
        return Environment(clock=clock)
    if isinstance(environment.clock, SystemClock):
        return attrs.evolve(environment, clock=clock)
    return environment


def trace_options(options: RunOptions | None) -> RunOptions:
    """Stream events buffered per task and flushed in task order: without it their
    interleaving across concurrent tasks depends on timing."""
    base = options if options is not None else RunOptions()
    if base.deterministic_token_streaming:
        return base
    return attrs.evolve(base, deterministic_token_streaming=True)


async def collect(
    handle: RunHandle,
) -> tuple[list[Event], Outcome | None, Exception | None]:
    """Every event the run emitted, and its outcome or its error."""
    events: list[Event] = []
    error: Exception | None = None
    try:
        async for ev in handle.events:
            events.append(ev)
    except Exception as exc:
        error = exc
    outcome: Outcome | None = None
    try:
        outcome = await handle
    except Exception as exc:
        error = error if error is not None else exc
    return events, outcome, error


async def finish(
    runtime: Runtime, thread_id: str, handle: RunHandle, *, capture_errors: bool
) -> Trace:
    """Run ``handle`` to the end and build its ``Trace``.

    A run error is raised (with the trace so far as a note) unless captured.
    """
    events, outcome, error = await collect(handle)
    store = runtime.get_latest_store(thread_id)
    values: Mapping[str, object] = store.to_dict() if store is not None else {}
    trace = Trace(events=events, store=values, outcome=outcome, error=error)
    if error is not None and not capture_errors:
        error.add_note("hive trace up to the error:\n" + trace.to_text())
        raise error
    return trace


def _shuffled(spec: NodeSpec, rng: random.Random, max_delay: float) -> NodeSpec:
    fn = spec.fn
    blocking = spec.blocking

    async def call(node_input: NodeInput) -> NodeOutput | None:
        await asyncio.sleep(rng.random() * max_delay)
        if blocking:
            result: object = await asyncio.to_thread(fn, node_input)
        else:
            result = fn(node_input)
            if inspect.isawaitable(result):
                result = await result
        await asyncio.sleep(rng.random() * max_delay)
        return result  # type: ignore[return-value]  # checked by the runtime

    return NodeSpec(
        id=spec.id,
        fn=call,
        is_async=True,
        blocking=False,
        retry=spec.retry,
        router=spec.router,
        successors=spec.successors,
        consumes=spec.consumes,
        contributes=spec.contributes,
    )


def shuffled_graph(
    graph: CompiledGraph, rng: random.Random, *, max_delay: float = MAX_DELAY
) -> CompiledGraph:
    """A copy of ``graph`` whose nodes sleep a random ``[0, max_delay)`` before and
    after their call, so concurrent tasks complete in an order drawn from ``rng``.

    The copy has the same IR (versions included), so its checkpoints and traces are
    comparable with the original's.
    """
    nodes = {nid: _shuffled(spec, rng, max_delay) for nid, spec in graph.nodes.items()}
    return CompiledGraph(
        schema=graph.schema, ir=graph.ir, nodes=nodes, joins=graph.joins
    )
