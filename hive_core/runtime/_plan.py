"""Planning: turn a frontier into tasks with deterministic ids. Pure; no I/O."""

from __future__ import annotations

from ..errors import IndexOutOfRangeError, UnknownNodeError
from ..graph._compiled import CompiledGraph
from ._state import RunIds, Task, ThreadState

__all__ = ["plan_tasks"]

_U32_MAX = 0xFFFFFFFF


def plan_tasks(
    graph: CompiledGraph,
    state: ThreadState,
    ids: RunIds,
) -> list[Task]:
    """One task per frontier entry, ordinal = position in the frontier.

    ``ids`` is built once per attempt (``RunIds``): it holds
    ``state.run_id.bytes``, as ``UUID.bytes`` is recomputed on every access and
    the run id is fixed for the whole attempt. Fingerprints and task ids are
    derived lazily by ``Task.id``: no encode can
    fail there, as the commit that spawned an overlay checked every value with
    its channel's codec, and the initial values were encoded for
    ``empty_fingerprint`` when the runtime was built.
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
        return [Task(0, seed, spec, ids, step)]
    if len(frontier) - 1 > _U32_MAX:
        raise IndexOutOfRangeError("task ordinal", len(frontier) - 1)
    nodes = graph.nodes
    tasks: list[Task] = []
    for ordinal, seed in enumerate(frontier):
        spec = nodes.get(seed.node)
        if spec is None:
            raise UnknownNodeError(seed.node, step=step)
        tasks.append(Task(ordinal, seed, spec, ids, step))
    return tasks
