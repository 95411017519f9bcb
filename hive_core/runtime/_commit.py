"""The commit: fold one step's outputs into the next state. Pure; no I/O, no await.

Validation order is the spec's and the first error wins: unknown channel and type,
single-writer policy, global reduce (sorted channels, writes by (ordinal, emission)),
task-local, routing (router sees a fresh-read view of its own task's writes), join
barriers (consume, then contribute), dedupe of graph seeds, unknown node check,
interrupt selection. Nothing is published unless every phase succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, final

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
from ..state._store import InitialCache, StoreView
from ._state import EMPTY_LOCAL, Seed, Task, ThreadState

__all__ = ["CommitResult", "commit_step", "reduce_writes"]

_END = Next.END
_EDGES = Next.USE_GRAPH_EDGES


@final
class CommitResult:
    """The post-step pieces the loop publishes (or checkpoints) together."""

    __slots__ = ("barriers", "frontier", "interruption", "values", "written")

    def __init__(
        self,
        values: Mapping[str, Any],
        written: list[tuple[str, Any]],
        barriers: Mapping[str, frozenset[str]],
        frontier: tuple[Seed, ...],
        interruption: Interruption | None,
    ) -> None:
        self.values = values
        self.written = written
        """(channel id, reduced value) per written global channel, sorted by id."""
        self.barriers = barriers
        self.frontier = frontier
        self.interruption = interruption


def reduce_writes(
    ch: Channel[Any], current: Any, updates: Sequence[Any], step: int | None
) -> Any:
    """Fold updates into ``current`` with the channel's reducer, never mutating it."""
    reducer = ch.reducer
    try:
        if len(updates) == 1:
            return reducer(current, updates[0])
        if reducer is _append:
            out = list(current)
            for u in updates:
                out.extend(u)
            return out
        value = current
        for u in updates:
            value = reducer(value, u)
        return value
    except Exception as exc:
        raise ReducerError(ch.id, step=step, cause=repr(exc)) from exc


def _check_value(
    by_id: Mapping[str, Channel[Any]], cid: str, value: Any, node: str, step: int
) -> Channel[Any]:
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
    return ch


def _spawn_seed(
    by_id: Mapping[str, Channel[Any]], sp: Spawn, node: str, step: int
) -> Seed:
    if not sp.local:
        return Seed(sp.node, spawned=True)
    local: dict[str, object] = {}
    for key, value in sp.local.items():
        cid = key if isinstance(key, str) else key.id
        ch = _check_value(by_id, cid, value, node, step)
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
        return nxt  # type: ignore[return-value]  # a Sequence once both enums are out
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
    return decision


def commit_step(
    graph: CompiledGraph,
    state: ThreadState,
    tasks: Sequence[Task],
    outputs: Sequence[NodeOutput],
    initial: InitialCache,
) -> CommitResult:
    """Compute the post-step state; raise the first error in spec order."""
    step = state.step
    schema = graph.schema
    by_id = schema.by_id
    pre = state.values
    n = len(tasks)

    # 1. validate writes; group global writes by channel in (ordinal, emission) order
    global_writes: dict[str, list[Any]] = {}
    task_globals: list[dict[str, list[Any]] | None] = [None] * n
    task_locals: list[dict[str, list[Any]] | None] | None = None
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
            # `_id` skips the property; an unbound channel (None) is looked up via
            # `.id` below, which raises the DefinitionError that explains it
            cid = key if type(key) is str else key._id  # type: ignore[union-attr]
            if cid is None:
                cid = key.id  # type: ignore[union-attr]
            value = w.value
            ch = by_id.get(cid)
            if ch is None or (ch.check_types and not isinstance(value, ch.check_types)):
                ch = _check_value(by_id, cid, value, task.node, step)  # raises
            if ch.is_global:
                if cid in global_writes:
                    global_writes[cid].append(value)
                else:
                    global_writes[cid] = [value]
                if has_router:
                    if mine is None:
                        mine = task_globals[i] = {}
                    mine.setdefault(cid, []).append(value)
            else:
                if task_locals is None:
                    task_locals = [None] * n
                bucket = task_locals[i]
                if bucket is None:
                    bucket = task_locals[i] = {}
                bucket.setdefault(cid, []).append(value)

    # 2. single-writer policy, 3. reduce (both in sorted channel order)
    written: list[tuple[str, Any]] = []
    values: Mapping[str, Any] = pre
    any_ephemeral = False
    if global_writes:
        order = sorted(global_writes) if len(global_writes) > 1 else list(global_writes)
        for cid in order:
            if by_id[cid].is_single and len(global_writes[cid]) > 1:
                raise UpdatePolicyViolationError(
                    cid, policy="single", write_count=len(global_writes[cid]), step=step
                )
        new_values = dict(pre)
        init = initial.values
        for cid in order:
            ch = by_id[cid]
            reduced = reduce_writes(ch, pre[cid], global_writes[cid], step)
            written.append((cid, reduced))
            if ch.is_ephemeral:
                new_values[cid] = init[cid]
                any_ephemeral = True
            else:
                new_values[cid] = reduced
        values = new_values

    # 4. task-local: single per task, reduce from overlay or initial value
    post_overlays: list[Mapping[str, object]] | None = None
    if task_locals is not None:
        post_overlays = []
        for i in range(n):
            overlay = tasks[i].seed.local
            locals_ = task_locals[i]
            if locals_ is None:
                post_overlays.append(overlay)
                continue
            new_overlay = dict(overlay)
            for cid in sorted(locals_):
                ch = by_id[cid]
                updates = locals_[cid]
                if ch.is_single and len(updates) > 1:
                    raise UpdatePolicyViolationError(
                        cid, policy="single", write_count=len(updates), step=step
                    )
                base = overlay[cid] if cid in overlay else initial.values[cid]
                new_overlay[cid] = reduce_writes(ch, base, updates, step)
            post_overlays.append(new_overlay)

    # 5. routing (fresh-read view for routers) and spawn collection
    graph_seeds: list[str] = []
    spawn_seeds: list[Seed] = []
    for i in range(n):
        task = tasks[i]
        out = outputs[i]
        view = None
        if task.spec.router is not None and out.next is _EDGES:
            fresh: Mapping[str, Any] = pre
            mine = task_globals[i]
            if mine and n == 1 and not any_ephemeral:
                fresh = values  # the only task: its own writes are all the writes
            elif mine:
                fresh = dict(pre)
                for cid in sorted(mine):
                    fresh[cid] = reduce_writes(by_id[cid], pre[cid], mine[cid], step)
            overlay = post_overlays[i] if post_overlays is not None else task.seed.local
            view = StoreView(schema, fresh, overlay, initial)
        graph_seeds.extend(_route(task, out, view, step))
        if out.spawn:
            for sp in out.spawn:
                spawn_seeds.append(_spawn_seed(by_id, sp, task.node, step))

    # 6. join barriers: consume full barriers of executed targets, then contribute
    barriers = state.barriers
    joins = graph.joins
    join_seeds: list[str] = []
    if joins:
        new_barriers = dict(barriers)
        touched: set[int] = set()
        for task in tasks:
            spec = task.spec
            for j in spec.consumes:
                join = joins[j]
                if len(new_barriers[join.id]) == len(join.parents):
                    new_barriers[join.id] = frozenset()
            touched.update(spec.contributes)
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
        barriers = new_barriers

    # 7. dedupe graph seeds (join seeds last), 8. unknown nodes, 9. next frontier
    nodes = graph.nodes
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
    for seed in frontier:
        if seed.node not in nodes:
            raise UnknownNodeError(seed.node, step=step)
    if spawn_seeds:
        for seed in spawn_seeds:
            if seed.node not in nodes:
                raise UnknownNodeError(seed.node, step=step)
        frontier.extend(spawn_seeds)

    # 11. interrupt selection: the smallest ordinal wins
    interruption = None
    if interrupt_at >= 0:
        task = tasks[interrupt_at]
        interruption = Interruption(
            id=interrupt_id(task.id),
            payload=outputs[interrupt_at].interrupt,
            node=task.node,
        )

    return CommitResult(values, written, barriers, tuple(frontier), interruption)
