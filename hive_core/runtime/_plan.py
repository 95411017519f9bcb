"""Planning: turn a frontier into tasks with deterministic ids. Pure; no I/O."""

from __future__ import annotations

from ..errors import IndexOutOfRangeError, UnknownNodeError
from ..graph._compiled import CompiledGraph
from ..state._store import InitialCache, fingerprint
from ._state import Task, ThreadState

__all__ = ["plan_tasks"]

_U32_MAX = 0xFFFFFFFF


def plan_tasks(
    graph: CompiledGraph,
    state: ThreadState,
    initial: InitialCache,
    empty_fingerprint: bytes,
    run_bytes: bytes,
) -> list[Task]:
    """One task per frontier entry, ordinal = position in the frontier.

    ``run_bytes`` is ``state.run_id.bytes``, passed in because ``UUID.bytes`` is
    recomputed on every access and the run id is fixed for the whole attempt.
    Fingerprints are computed here (an encode failure must surface before the step
    runs); task ids are derived lazily by ``Task.id``.
    """
    step = state.step
    if step > _U32_MAX:
        raise IndexOutOfRangeError("step index", step)
    frontier = state.frontier
    if len(frontier) == 1:  # a chain or loop step: no enumerate, no appends
        seed = frontier[0]
        spec = graph.nodes.get(seed.node)
        if spec is None:
            raise UnknownNodeError(seed.node, step=step)
        fp = (
            fingerprint(graph.schema, seed.local, initial)
            if seed.local
            else empty_fingerprint
        )
        return [Task(0, seed, spec, run_bytes, step, fp)]
    if len(frontier) - 1 > _U32_MAX:
        raise IndexOutOfRangeError("task ordinal", len(frontier) - 1)
    nodes = graph.nodes
    schema = graph.schema
    tasks: list[Task] = []
    for ordinal, seed in enumerate(frontier):
        spec = nodes.get(seed.node)
        if spec is None:
            raise UnknownNodeError(seed.node, step=step)
        fp = (
            fingerprint(schema, seed.local, initial)
            if seed.local
            else empty_fingerprint
        )
        tasks.append(Task(ordinal, seed, spec, run_bytes, step, fp))
    return tasks
