"""The commit of a step with one task: ``commit_step``'s phases fused into one call.

Most supersteps (a chain, a loop, any path without fan-out) run exactly one task.
For those, ``commit_one`` computes what ``commit_step`` computes (same values, same
written list, same frontier, same first error in the same phase order; see
``docs/concepts/supersteps.md``) without the per-phase records (``StepWrites``,
``Routing``) and the per-task lists a step of many tasks needs.
A task that writes a task-local channel or spawns tasks takes the general path:
its phases need the per-task bookkeeping (``docs/performance.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..errors import UnknownNodeError
from ..graph._compiled import CompiledGraph
from ..nodes import Next, NodeOutput
from ..reducers import append as _append
from ..state._schema import SchemaSpec
from ..state._store import InitialCache, StoreView
from ._commit import (
    CommitResult,
    GlobalReduction,
    Routing,
    _route,
    _router_view,
    channel_id,
    check_write,
    commit_step,
    next_frontier,
    reduce_globals,
    reduce_writes,
    select_interrupt,
    update_barriers,
)
from ._state import Seed, Task, ThreadState

__all__ = ["commit_one"]

_END: Final = Next.END
_EDGES: Final = Next.USE_GRAPH_EDGES


def _global_writes(
    schema: SchemaSpec, task: Task, out: NodeOutput, step: int
) -> dict[str, list[Any]] | None:
    """Phase 1 for one task: every write checked (``collect_writes``' check, in
    emission order), grouped by channel; ``None`` if one is task-local."""
    by_id = schema.by_id
    grouped: dict[str, list[Any]] = {}
    for w in out.writes:
        cid = channel_id(w.channel)
        value = w.value
        ch = check_write(by_id, cid, value, task.node, step)
        if not ch.is_global:
            return None
        if cid in grouped:
            grouped[cid].append(value)
        else:
            grouped[cid] = [value]
    return grouped


def _reduce(
    schema: SchemaSpec,
    pre: Mapping[str, Any],
    task: Task,
    out: NodeOutput,
    initial: InitialCache,
    step: int,
) -> tuple[GlobalReduction, dict[str, list[Any]]] | None:
    """Phases 1-3 for one task; ``None`` when it needs the general commit (it
    spawns or writes a task-local channel). The common node writes once: nothing
    to group, order or hold to a single writer, so its reduction is built here
    as ``reduce_globals`` builds it, without the calls."""
    writes = out.writes
    if out.spawn:
        return None
    if len(writes) != 1:
        grouped = _global_writes(schema, task, out, step) if writes else {}
        if grouped is None:
            return None
        return reduce_globals(schema.by_id, pre, grouped, initial, step), grouped
    w = writes[0]
    cid = channel_id(w.channel)
    value = w.value
    ch = check_write(schema.by_id, cid, value, task.node, step)
    if not ch.is_global:
        return None
    grouped = {cid: [value]}
    if ch.is_ephemeral:
        return reduce_globals(schema.by_id, pre, grouped, initial, step), grouped
    current = pre[cid]
    new = reduce_writes(ch, current, (value,), step)
    values = dict(pre)
    values[cid] = new
    appended = (
        ((cid, current),) if ch.reducer is _append and type(current) is list else ()
    )
    return GlobalReduction(values, [(cid, new)], False, appended), grouped


def commit_one(
    graph: CompiledGraph,
    state: ThreadState,
    task: Task,
    out: NodeOutput,
    initial: InitialCache,
    lone: Mapping[str, tuple[Seed, ...]],
) -> CommitResult:
    """``commit_step(graph, state, [task], [out], initial)``, in fewer calls;
    ``lone`` maps each node id to the frontier of its graph seed alone."""
    step = state.step
    schema = graph.schema
    pre = state.values
    reduced = _reduce(schema, pre, task, out, initial, step)
    if reduced is None:
        return commit_step(graph, state, (task,), (out,), initial)
    reduction, grouped = reduced
    spec = task.spec
    nxt = out.next
    seeds: Sequence[str]
    if nxt is _END:
        seeds = ()
    elif nxt is not _EDGES:
        seeds = nxt  # NodeOutput checked it is a list of node ids
    elif spec.router is None:
        seeds = spec.successors
    else:  # phase 5: the router on a fresh view with its own (all the) writes
        overlay = task.seed.local
        view = (
            StoreView(schema, reduction.values, overlay, initial)
            if not reduction.any_ephemeral  # `_router_view`'s only-task case
            else _router_view(
                schema, pre, reduction, grouped, overlay, initial, step, True
            )
        )
        seeds = _route(task, out, view, step)
    barriers = state.barriers
    join_seeds: Sequence[str] = ()
    if graph.joins:  # phase 6
        update = update_barriers(graph, barriers, (task,))
        barriers, join_seeds = update.barriers, update.join_seeds
    # phases 7 and 8: a single graph seed is the frontier ``lone`` holds for its
    # node (there iff the node is), none is the empty one; else ``next_frontier``
    # without spawns
    if len(seeds) == 1 and not join_seeds:
        frontier = lone.get(seeds[0])
        if frontier is None:
            raise UnknownNodeError(seeds[0], step=step)
    elif not seeds and not join_seeds:
        frontier = ()  # the path ends here: what `next_frontier` gives for nothing
    else:
        frontier = next_frontier(graph, Routing(list(seeds), []), join_seeds, step)
    interruption = None
    if out.interrupt is not None:  # phase 10
        interruption = select_interrupt((task,), (out,), 0, schema, step)
    return CommitResult(
        reduction.values,
        reduction.written,
        barriers,
        frontier,
        interruption,
        reduction.appended,
        grouped,
    )
