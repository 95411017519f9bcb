"""The commit: fold one step's outputs into the next state. Pure; no I/O, no await.

Validation order is fixed and the first error wins (docs/concepts/supersteps.md):
unknown channel and type, single-writer policy, global reduce (sorted channels,
writes by (ordinal, emission)), task-local, routing (router sees a fresh-read view
of its own task's writes), join barriers (consume, then contribute), dedupe of graph
seeds, unknown node check, interrupt selection. Nothing is published unless every
phase succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from ..errors import (
    ChannelTypeMismatchError,
    ReducerError,
    RouterError,
    ScopeMismatchError,
    UnknownChannelError,
    UnknownNodeError,
    UpdatePolicyViolationError,
)
from ..graph._compiled import CompiledGraph
from ..ids import interrupt_id
from ..nodes import Next, NodeOutput, Spawn
from ..reducers import append as _append
from ..run_types import Interruption
from ..state._channels import Channel
from ..state._schema import SchemaSpec
from ..state._store import InitialCache, StoreView
from ._state import EMPTY_LOCAL, Seed, Task, ThreadState
from ._values import (
    REDUCED_CHECKS,
    VALUE_CHECKS,
    check_interrupt_payload,
    reduced_check,
    value_check,
)

__all__ = [
    "BarrierUpdate",
    "CommitResult",
    "GlobalReduction",
    "Routing",
    "StepWrites",
    "channel_id",
    "check_write",
    "collect_writes",
    "commit_step",
    "next_frontier",
    "reduce_globals",
    "reduce_locals",
    "reduce_writes",
    "route_tasks",
    "select_interrupt",
    "update_barriers",
]

_END: Final = Next.END
_EDGES: Final = Next.USE_GRAPH_EDGES


class CommitResult(msgspec.Struct, frozen=True):
    """The post-step pieces the loop publishes (or checkpoints) together."""

    values: Mapping[str, Any]
    written: list[tuple[str, Any]]
    """(channel id, reduced value) per written global channel, sorted by id."""
    barriers: Mapping[str, frozenset[str]]
    frontier: tuple[Seed, ...]
    interruption: Interruption | None
    appended: tuple[tuple[str, Any], ...] = ()
    """(channel id, pre-step value) per channel the append reducer extended: the
    new value is that list plus the step's items, so a save encodes only those."""
    grouped: Mapping[str, list[Any]] | None = None
    """A one-task step's writes by channel id, in emission order (``commit_one``);
    an ``updates`` stream reads them instead of walking the writes again."""


class StepWrites(msgspec.Struct, frozen=True):
    """Phase 1: every write validated and grouped, in (ordinal, emission) order."""

    global_writes: dict[str, list[Any]]
    """Updates per global channel id."""
    router_writes: list[dict[str, list[Any]] | None]
    """Per task, its own global updates; only filled for tasks with a router."""
    local_writes: list[dict[str, list[Any]] | None] | None
    """Per task, its task-local updates; ``None`` when no task wrote any."""
    interrupt_at: int
    """Ordinal of the first task that asked to interrupt, or -1."""


class GlobalReduction(msgspec.Struct, frozen=True):
    """Phases 2 and 3: the post-step global values."""

    values: Mapping[str, Any]
    written: list[tuple[str, Any]]
    any_ephemeral: bool
    """Whether an ephemeral channel was reset, so ``values`` is not what a router
    of the only task would see."""
    appended: tuple[tuple[str, Any], ...] = ()
    """See ``CommitResult.appended``."""


class Routing(msgspec.Struct, frozen=True):
    """Phase 5: graph seeds in task order, and spawn seeds."""

    graph_seeds: list[str]
    spawn_seeds: list[Seed]


class BarrierUpdate(msgspec.Struct, frozen=True):
    """Phase 6: the join barriers after the step, and the joins that fired."""

    barriers: Mapping[str, frozenset[str]]
    join_seeds: list[str]


def reduce_writes(
    ch: Channel[Any], current: Any, updates: Sequence[Any], step: int | None
) -> Any:
    """Fold updates into ``current`` with the channel's reducer, never mutating it.

    A coercing reducer's result is checked here (its writes could not be)."""
    reducer = ch.reducer
    try:
        if len(updates) == 1:
            value = reducer(current, updates[0])
        elif reducer is _append:
            value = list(current)
            for u in updates:
                value.extend(u)
        else:
            value = current
            for u in updates:
                value = reducer(value, u)
    except Exception as exc:
        raise ReducerError(ch.id, step=step, cause=repr(exc)) from exc
    check = REDUCED_CHECKS[ch] if ch in REDUCED_CHECKS else reduced_check(ch)
    if check is not None:
        check(value, None, step)
    return value


def channel_id(key: Channel[Any] | str) -> str:
    """The id a write's key names (a channel or its id)."""
    if isinstance(key, str):
        return key
    own = key._id  # the slot: `Channel.id` is a property call per write
    return own if own is not None else key.id  # `.id` raises: never named


def check_write(
    by_id: Mapping[str, Channel[Any]],
    cid: str,
    value: Any,
    node: str | None,
    step: int | None,
) -> Channel[Any]:
    """The channel ``cid`` names, once ``value`` is known to fit it at every depth.

    The one write check: the commit's, and the one input and external writes use.

    Raises:
        UnknownChannelError: no channel has that id.
        ChannelTypeMismatchError: the value's class is not the declared one.
        ChannelValueTypeError: it is, but something inside it does not match.
    """
    ch = by_id.get(cid)
    if ch is None:
        raise UnknownChannelError(cid, node=node, step=step)
    ct = ch.check_types
    if ct and not isinstance(value, ct):
        raise ChannelTypeMismatchError(
            cid,
            expected=ch.type_name,
            actual=type(value).__name__,
            node=node,
            step=step,
        )
    deep = VALUE_CHECKS.get(ch)  # `value_check(ch)`, without its call once built
    if deep is None and ch not in VALUE_CHECKS:
        deep = value_check(ch)
    if deep is not None:
        deep(value, node, step)
    return ch


def _spawn_seed(
    by_id: Mapping[str, Channel[Any]], sp: Spawn, node: str, step: int
) -> Seed:
    if not sp.local:
        return Seed(sp.node, spawned=True)
    local: dict[str, object] = {}
    for key, value in sp.local.items():
        cid = key if isinstance(key, str) else key.id
        ch = check_write(by_id, cid, value, node, step)
        if ch.is_global:
            raise ScopeMismatchError(cid, expected="task-local", actual="global")
        local[cid] = value
    return Seed(sp.node, local, spawned=True)


def _route(
    task: Task,
    out: NodeOutput,
    view_for_router: StoreView | None,
    step: int,
) -> Sequence[str]:
    nxt = out.next
    if nxt is _END:
        return ()
    if nxt is not _EDGES:
        return nxt  # NodeOutput checked it is END, GRAPH_EDGES or node ids
    spec = task.spec
    router = spec.router
    if router is None:
        return spec.successors
    if view_for_router is None:  # pragma: no cover - built by the caller
        raise RouterError(task.node, step=step, cause="no view")
    try:
        decision = router(view_for_router)
    except Exception as exc:
        raise RouterError(task.node, step=step, cause=repr(exc)) from exc
    if type(decision) is list or type(decision) is tuple:
        for item in decision:  # `_node_ids` inlined while every item is a str
            if type(item) is not str:
                return _node_ids(task, decision, step)  # raises
        return decision
    if decision is _EDGES:
        return spec.successors
    if decision is _END:
        return ()
    if isinstance(decision, str) or not isinstance(decision, Sequence):
        raise RouterError(
            task.node,
            step=step,
            cause=f"returned {decision!r}; expected GRAPH_EDGES, END or a list of "
            "node ids",
        )
    return _node_ids(task, decision, step)


def _node_ids(task: Task, decision: Sequence[object], step: int) -> Sequence[str]:
    for index, item in enumerate(decision):
        if type(item) is not str:
            raise RouterError(task.node, step=step, cause=_not_a_node_id(index, item))
    return decision  # type: ignore[return-value]  # every item was checked


def _not_a_node_id(index: int, item: object) -> str:
    """Why a routing list (a router's or a node's ``next``) is refused: each item
    must be a node id (``str``); a ``Spawn`` belongs in the node's ``spawn``."""
    got = f"{type(item).__name__} {item!r}"
    hint = (
        "; routing names node ids only: spawn tasks from the node instead "
        "(NodeOutput(spawn=[...]) or hive_dsl SpawnEach)"
        if isinstance(item, Spawn)
        else ""
    )
    return (
        f"returned a list whose item {index} is {got}; expected GRAPH_EDGES, END or "
        f"a list of node ids (str){hint}"
    )


def collect_writes(
    by_id: Mapping[str, Channel[Any]],
    tasks: Sequence[Task],
    outputs: Sequence[NodeOutput],
    step: int,
) -> StepWrites:
    """Phase 1: check every write's channel and value; group them by channel."""
    n = len(tasks)
    global_writes: dict[str, list[Any]] = {}
    router_writes: list[dict[str, list[Any]] | None] = [None] * n
    local_writes: list[dict[str, list[Any]] | None] | None = None
    interrupt_at = -1
    for i in range(n):
        task = tasks[i]
        out = outputs[i]
        if out.interrupt is not None and interrupt_at < 0:
            interrupt_at = i
        writes = out.writes
        if not writes:
            continue
        has_router = task.spec.router is not None
        mine: dict[str, list[Any]] | None = None
        for w in writes:
            key = w.channel
            cid = key if isinstance(key, str) else key.id
            value = w.value
            ch = check_write(by_id, cid, value, task.node, step)
            if ch.is_global:
                if cid in global_writes:
                    global_writes[cid].append(value)
                else:
                    global_writes[cid] = [value]
                if has_router:
                    if mine is None:
                        mine = router_writes[i] = {}
                    mine.setdefault(cid, []).append(value)
            else:
                if local_writes is None:
                    local_writes = [None] * n
                bucket = local_writes[i]
                if bucket is None:
                    bucket = local_writes[i] = {}
                bucket.setdefault(cid, []).append(value)
    return StepWrites(global_writes, router_writes, local_writes, interrupt_at)


def _check_single(
    by_id: Mapping[str, Channel[Any]],
    cid: str,
    updates: Sequence[Any],
    step: int,
) -> None:
    if by_id[cid].is_single and len(updates) > 1:
        raise UpdatePolicyViolationError(
            cid, policy="single", write_count=len(updates), step=step
        )


def reduce_globals(
    by_id: Mapping[str, Channel[Any]],
    pre: Mapping[str, Any],
    global_writes: Mapping[str, Sequence[Any]],
    initial: InitialCache,
    step: int,
) -> GlobalReduction:
    """Phases 2 and 3: every single-writer check, then every reduction, both in
    sorted channel order; ephemeral channels reset to their initial value."""
    if not global_writes:
        return GlobalReduction(pre, [], False)
    order = sorted(global_writes) if len(global_writes) > 1 else list(global_writes)
    for cid in order:
        updates = global_writes[cid]
        if len(updates) > 1:  # `_check_single`, called only when it can raise
            _check_single(by_id, cid, updates, step)
    written: list[tuple[str, Any]] = []
    appended: list[tuple[str, Any]] = []
    new_values = dict(pre)
    init = initial.values
    any_ephemeral = False
    for cid in order:
        ch = by_id[cid]
        current = pre[cid]
        reduced = reduce_writes(ch, current, global_writes[cid], step)
        written.append((cid, reduced))
        if ch.is_ephemeral:
            new_values[cid] = init[cid]
            any_ephemeral = True
        else:
            new_values[cid] = reduced
            if ch.reducer is _append and type(current) is list:
                appended.append((cid, current))
    return GlobalReduction(new_values, written, any_ephemeral, tuple(appended))


def reduce_locals(
    by_id: Mapping[str, Channel[Any]],
    tasks: Sequence[Task],
    local_writes: Sequence[Mapping[str, Sequence[Any]] | None] | None,
    initial: InitialCache,
    step: int,
) -> tuple[Mapping[str, object], ...] | None:
    """Phase 4: each task's overlay after its task-local writes (single-writer per
    task, reduced from the overlay or the initial value); ``None`` if none."""
    if local_writes is None:
        return None
    overlays: list[Mapping[str, object]] = []
    for task, locals_ in zip(tasks, local_writes, strict=True):
        overlay = task.seed.local
        if locals_ is None:
            overlays.append(overlay)
            continue
        new_overlay = dict(overlay)
        for cid in sorted(locals_):
            updates = locals_[cid]
            _check_single(by_id, cid, updates, step)
            base = overlay[cid] if cid in overlay else initial.values[cid]
            new_overlay[cid] = reduce_writes(by_id[cid], base, updates, step)
        overlays.append(new_overlay)
    return tuple(overlays)


def _router_view(
    schema: SchemaSpec,
    pre: Mapping[str, Any],
    reduction: GlobalReduction,
    mine: Mapping[str, Sequence[Any]] | None,
    overlay: Mapping[str, object],
    initial: InitialCache,
    step: int,
    only_task: bool,
) -> StoreView:
    """The fresh-read view a router sees: pre-step values plus its task's writes."""
    fresh: Mapping[str, Any] = pre
    if mine and only_task and not reduction.any_ephemeral:
        fresh = reduction.values  # the only task: its own writes are all the writes
    elif mine:
        by_id = schema.by_id
        fresh = dict(pre)
        for cid in sorted(mine):
            fresh[cid] = reduce_writes(by_id[cid], pre[cid], mine[cid], step)
    return StoreView(schema, fresh, overlay, initial)


def route_tasks(
    schema: SchemaSpec,
    pre: Mapping[str, Any],
    tasks: Sequence[Task],
    outputs: Sequence[NodeOutput],
    writes: StepWrites,
    reduction: GlobalReduction,
    overlays: Sequence[Mapping[str, object]] | None,
    initial: InitialCache,
    step: int,
) -> Routing:
    """Phase 5: each task's routing decision (its router on a fresh-read view),
    and its spawns with their task-local values checked."""
    graph_seeds: list[str] = []
    spawn_seeds: list[Seed] = []
    only_task = len(tasks) == 1
    for i, task in enumerate(tasks):
        out = outputs[i]
        view = None
        if task.spec.router is not None and out.next is _EDGES:
            overlay = overlays[i] if overlays is not None else task.seed.local
            view = _router_view(
                schema,
                pre,
                reduction,
                writes.router_writes[i],
                overlay,
                initial,
                step,
                only_task,
            )
        graph_seeds.extend(_route(task, out, view, step))
        for sp in out.spawn:
            spawn_seeds.append(_spawn_seed(schema.by_id, sp, task.node, step))
    return Routing(graph_seeds, spawn_seeds)


def update_barriers(
    graph: CompiledGraph,
    barriers: Mapping[str, frozenset[str]],
    tasks: Sequence[Task],
) -> BarrierUpdate:
    """Phase 6: consume the full barriers of executed join targets, then add the
    executed parents; a barrier that becomes full fires its join."""
    joins = graph.joins
    if not joins:
        return BarrierUpdate(barriers, [])
    new_barriers = dict(barriers)
    touched: set[int] = set()
    for task in tasks:
        spec = task.spec
        for j in spec.consumes:
            join = joins[j]
            if len(new_barriers[join.id]) == len(join.parents):
                new_barriers[join.id] = frozenset()
        touched.update(spec.contributes)
    join_seeds: list[str] = []
    if touched:
        executed = {t.node for t in tasks}
        for j in sorted(touched):
            join = joins[j]
            seen = new_barriers[join.id]
            was_full = len(seen) == len(join.parents)
            now = seen | (join.parents & executed)
            new_barriers[join.id] = now
            if not was_full and len(now) == len(join.parents):
                join_seeds.append(join.target)
    return BarrierUpdate(new_barriers, join_seeds)


def next_frontier(
    graph: CompiledGraph, routing: Routing, join_seeds: Sequence[str], step: int
) -> tuple[Seed, ...]:
    """Phases 7 to 9: graph seeds deduplicated (join seeds last, spawns never),
    every node checked to exist, spawns appended."""
    graph_seeds = routing.graph_seeds
    frontier: list[Seed] = []
    if len(graph_seeds) == 1 and not join_seeds:
        frontier.append(Seed(graph_seeds[0]))
    else:
        seen_nodes: set[str] = set()
        for nid in graph_seeds:
            if nid not in seen_nodes:
                seen_nodes.add(nid)
                frontier.append(Seed(nid))
        for nid in join_seeds:
            if nid not in seen_nodes:
                seen_nodes.add(nid)
                frontier.append(Seed(nid, EMPTY_LOCAL, is_join=True))
    nodes = graph.nodes
    for seed in frontier:
        if seed.node not in nodes:
            raise UnknownNodeError(seed.node, step=step)
    spawn_seeds = routing.spawn_seeds
    if spawn_seeds:
        for seed in spawn_seeds:
            if seed.node not in nodes:
                raise UnknownNodeError(seed.node, step=step)
        frontier.extend(spawn_seeds)
    return tuple(frontier)


def select_interrupt(
    tasks: Sequence[Task],
    outputs: Sequence[NodeOutput],
    interrupt_at: int,
    schema: SchemaSpec | None = None,
    step: int | None = None,
) -> Interruption | None:
    """Phase 10: the interrupt of the smallest ordinal that asked, if any; its
    payload must fit the schema's ``interrupt_payload`` type, or the pause could
    never be saved and resumed."""
    if interrupt_at < 0:
        return None
    task = tasks[interrupt_at]
    payload = outputs[interrupt_at].interrupt
    if schema is not None:
        check_interrupt_payload(schema.interrupt_payload, payload, task.node, step)
    return Interruption(id=interrupt_id(task.id), payload=payload, node=task.node)


def commit_step(
    graph: CompiledGraph,
    state: ThreadState,
    tasks: Sequence[Task],
    outputs: Sequence[NodeOutput],
    initial: InitialCache,
) -> CommitResult:
    """Compute the post-step state; raise the first error in the phases' order."""
    step = state.step
    schema = graph.schema
    by_id = schema.by_id
    pre = state.values
    writes = collect_writes(by_id, tasks, outputs, step)
    reduction = (
        reduce_globals(by_id, pre, writes.global_writes, initial, step)
        if writes.global_writes
        else GlobalReduction(pre, [], False)
    )
    overlays = (
        reduce_locals(by_id, tasks, writes.local_writes, initial, step)
        if writes.local_writes is not None
        else None
    )
    routing = route_tasks(
        schema, pre, tasks, outputs, writes, reduction, overlays, initial, step
    )
    # the skipped phases below would return their inputs unchanged
    joins = (
        update_barriers(graph, state.barriers, tasks)
        if graph.joins
        else BarrierUpdate(state.barriers, [])
    )
    frontier = next_frontier(graph, routing, joins.join_seeds, step)
    interruption = (
        select_interrupt(tasks, outputs, writes.interrupt_at, schema, step)
        if writes.interrupt_at >= 0
        else None
    )
    return CommitResult(
        reduction.values,
        reduction.written,
        joins.barriers,
        frontier,
        interruption,
        reduction.appended,
    )
