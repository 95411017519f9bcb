"""The determinism checker: rerun a graph with task completion order shuffled and
fail on the first event that differs (the ``hive_determinism`` fixture).

A shuffled run is the same graph with every node wrapped in random delays drawn
from a seeded ``random.Random``, so the tasks of a step finish in a different
order each time while the IR, and with it every id and version, stays the same.
See ``docs/testing.md``, "Checking determinism".
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Callable, Sequence

from .._bridge import run_sync
from ..environment import Environment
from ..graph import CompiledGraph, NodeSpec
from ..nodes import NodeInput, NodeOutput
from ..persistence import InMemoryCheckpointStore
from ..run_types import RunOptions
from ..runtime import Runtime
from ._collect import finish, prepare_environment, trace_options
from ._errors import NondeterminismError
from ._fakes import FakeClock, SequentialIds
from ._trace import Trace, diff_traces

__all__ = [
    "MAX_DELAY",
    "check_determinism",
    "check_determinism_async",
    "shuffled_graph",
]

MAX_DELAY = 0.002
"""Upper bound (seconds) of each random delay before and after a node call."""

EnvironmentSource = Environment | Callable[[], Environment] | None


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
    comparable with those of ``graph``.
    """
    nodes = {nid: _shuffled(spec, rng, max_delay) for nid, spec in graph.nodes.items()}
    return CompiledGraph(
        schema=graph.schema, ir=graph.ir, nodes=nodes, joins=graph.joins
    )


def _environment(source: EnvironmentSource) -> Environment | None:
    if source is None or isinstance(source, Environment):
        return source
    return source()


def _resume_payloads(resume: Sequence[object]) -> tuple[object, ...]:
    if isinstance(resume, str | bytes) or not isinstance(resume, Sequence):
        raise TypeError(
            "resume takes a sequence of payloads, one per interrupt to answer "
            f"(e.g. resume=[{resume!r}]), got {type(resume).__name__}"
        )
    return tuple(resume)


async def _run_and_resume(
    graph: CompiledGraph,
    input: object,
    resume: tuple[object, ...],
    *,
    thread_id: str,
    options: RunOptions,
    environment: EnvironmentSource,
) -> list[Trace]:
    """One fresh thread: the run, then one resumed run per payload, each answering
    whatever interrupt is pending; stops after a run that raised."""
    rt = Runtime(
        graph,
        environment=prepare_environment(_environment(environment), FakeClock()),
        checkpoint_store=InMemoryCheckpointStore(),
        ids=SequentialIds(),
    )
    handle = rt.run(thread_id, input, options)
    traces = [await finish(rt, thread_id, handle, capture_errors=True)]
    for payload in resume:
        last = traces[-1]
        if last.error is not None:
            break
        # with nothing pending the runtime raises NoInterruptToResumeError, which
        # becomes this run's trace like any other run error
        pending = last.interrupt.id if last.interrupt is not None else ""
        handle = rt.resume(thread_id, pending, payload, options)
        traces.append(await finish(rt, thread_id, handle, capture_errors=True))
    return traces


async def check_determinism_async(
    graph: CompiledGraph,
    input: object = None,
    *,
    runs: int = 5,
    seed: int | None = None,
    thread_id: str = "test",
    options: RunOptions | None = None,
    environment: EnvironmentSource = None,
    resume: Sequence[object] = (),
    capture_errors: bool = False,
) -> Trace:
    """``check_determinism`` for async code."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    payloads = _resume_payloads(resume)
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)

    async def once(g: CompiledGraph) -> list[Trace]:
        return await _run_and_resume(
            g,
            input,
            payloads,
            thread_id=thread_id,
            options=trace_options(options),
            environment=environment,
        )

    reference = await once(graph)
    first_error = next((t.error for t in reference if t.error is not None), None)
    if first_error is not None and not capture_errors:
        raise first_error
    for run in range(1, runs + 1):
        rng = random.Random(f"hive-determinism:{seed}:{run}")
        candidate = await once(shuffled_graph(graph, rng))
        # lengths differ only after a segment that differs (one raised, one not)
        pairs = zip(reference, candidate, strict=False)
        for segment, (expected, actual) in enumerate(pairs):
            if actual != expected:
                raise NondeterminismError(
                    seed=seed,
                    run=run,
                    runs=runs,
                    diff=diff_traces(expected, actual),
                    error=actual.error,
                    resume=segment,
                    resumes=len(payloads),
                )
    return reference[-1]


def check_determinism(
    graph: CompiledGraph,
    input: object = None,
    *,
    runs: int = 5,
    seed: int | None = None,
    thread_id: str = "test",
    options: RunOptions | None = None,
    environment: EnvironmentSource = None,
    resume: Sequence[object] = (),
    capture_errors: bool = False,
) -> Trace:
    """Run ``graph`` once as is, then ``runs`` more times with the tasks of each
    step finishing in a shuffled order; return the reference trace if all agree.

    Each shuffled run wraps every node in random sub-millisecond delays drawn from
    a ``random.Random`` seeded with ``seed`` and the run number (a random seed when
    ``None``; it is reported on failure). Every run gets a fresh runtime with
    ``SequentialIds``, a ``FakeClock`` and an in-memory checkpoint store. Pass
    ``environment`` as a zero-argument factory when it holds scripted services, so
    each run gets fresh ones.

    ``resume`` lists payloads that answer, in order, the interrupts the graph
    raises: each run is then the run plus one resumed run per payload on the same
    thread, all compared, and the trace returned is the last resumed run's.

    Raises:
        NondeterminismError: a run's trace (events, outcome or store) differs from
            the reference; names the seed, the run, the resume if any and the first
            diverging event.
        Exception: the reference's first error, unless ``capture_errors``
            (``NoInterruptToResumeError`` when a payload finds nothing pending).
    """
    return run_sync(
        check_determinism_async(
            graph,
            input,
            runs=runs,
            seed=seed,
            thread_id=thread_id,
            options=options,
            environment=environment,
            resume=resume,
            capture_errors=capture_errors,
        ),
        name="check_determinism",
        instead="await check_determinism_async(...)",
    )
