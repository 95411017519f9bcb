"""``WorkflowPatch``: edit a compiled graph (replace a node, insert a probe...) and
see what changed.

```python
patch = WorkflowPatch().insert_probe(log_it, between="plan", and_="write")
patch.replace_node("write", better_write)
new_graph, diff = patch.apply(graph)
print(diff.to_mermaid())
```

``apply`` rebuilds the graph through a fresh ``GraphBuilder`` from the compiled
graph's public IR and node specs: node functions, retry policies, ``blocking``,
routers, joins, start list and output projection are kept. Unlike a rebuild
that regroups static edges by source in sorted order and sorts joins, the
**global order of static edges and joins is kept**: edges stay where they were,
an inserted probe's edge takes the replaced edge's place with the probe's own edge
right after it, and added edges go last. Every node's own successor order, which is
all routing depends on, is the same either way.

**Graph version.** ``apply`` compiles without a version override, so any structural
change (nodes, edges, retry policies) gives a new ``graph_version``; checkpoints saved
under the old version then fail to load (``CheckpointVersionMismatchError``). A patch
that only swaps node functions keeps the version (like deploying new code).
``migrate`` moves a thread's latest checkpoint to the new version when that is safe
(through ``hive_core.persistence.migrate_checkpoint``).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, Self, TypeAlias, final

import attrs
import msgspec

from hive_core import (
    Checkpoint,
    CheckpointStore,
    CompiledGraph,
    DefinitionError,
    GraphBuilder,
    GraphIR,
    Problem,
    RetryPolicy,
)
from hive_core.persistence import migrate_checkpoint, migrate_checkpoint_sync

from ._effects import node_id_of
from ._errors import (
    MigrationError,
    PatchConflictError,
    PatchDuplicateNodeError,
    PatchError,
    PatchMissingEdgeError,
    PatchUnknownNodeError,
)
from ._lower import CoreFn, lower_node_fn
from ._signatures import check_node_signature, function_name, is_async_callable
from ._workflow import NodeDef, NodeRef, Workflow

__all__ = ["KEEP", "PatchDiff", "PatchResult", "WorkflowPatch"]


class _Keep(enum.Enum):
    KEEP = "KEEP"


KEEP: Literal[_Keep.KEEP] = _Keep.KEEP
"""``replace_node`` default: keep the replaced node's retry policy / blocking flag."""

_ERRORS: dict[str, type[PatchError]] = {
    "patch-unknown-node": PatchUnknownNodeError,
    "patch-duplicate-node-id": PatchDuplicateNodeError,
    "patch-missing-static-edge": PatchMissingEdgeError,
    "patch-conflict": PatchConflictError,
}

Edge: TypeAlias = tuple[str, str]


class PatchDiff(msgspec.Struct, frozen=True, kw_only=True):
    """What a patch changed; every list is sorted."""

    added_nodes: tuple[str, ...] = ()
    removed_nodes: tuple[str, ...] = ()
    updated_nodes: tuple[str, ...] = ()
    """Nodes whose function, retry policy, blocking flag or router changed."""
    added_edges: tuple[Edge, ...] = ()
    removed_edges: tuple[Edge, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.added_nodes
            or self.removed_nodes
            or self.updated_nodes
            or self.added_edges
            or self.removed_edges
        )

    def to_mermaid(self) -> str:
        """The patch diff as Mermaid comments (no trailing newline; ``docs/dsl.md``, patching).

        ``flowchart TD``, then per non-empty section a ``%% <Title>`` comment and
        sorted ``%% + id`` / ``%% - id`` / ``%% ~ id`` lines; edges as
        ``%% + from-->to``.
        """
        lines = ["flowchart TD"]
        sections: list[tuple[str, str, list[str]]] = [
            ("Added nodes", "+", list(self.added_nodes)),
            ("Removed nodes", "-", list(self.removed_nodes)),
            ("Updated nodes", "~", list(self.updated_nodes)),
            ("Added edges", "+", [f"{a}-->{b}" for a, b in self.added_edges]),
            ("Removed edges", "-", [f"{a}-->{b}" for a, b in self.removed_edges]),
        ]
        for title, mark, items in sections:
            if items:
                lines.append(f"%% {title}")
                lines += [f"%% {mark} {item}" for item in sorted(items)]
        return "\n".join(lines)


class PatchResult(NamedTuple):
    """``apply``'s result; unpacks as ``graph, diff``."""

    graph: CompiledGraph
    diff: PatchDiff


# ------------------------------------------------------------------ operations


@attrs.define
class _NodeState:
    fn: Any
    retry: RetryPolicy | None
    blocking: bool


@attrs.define
class _Work:
    """The graph as patched so far."""

    nodes: dict[str, _NodeState]
    edges: list[Edge]
    joins: list[tuple[tuple[str, ...], str]]
    routers: dict[str, Any]
    start: list[str]
    replaced: set[str] = attrs.field(factory=set)
    problems: list[Problem] = attrs.field(factory=list)

    def unknown(self, op: str, *ids: str) -> bool:
        """Record a problem per missing id; True if any was missing."""
        missing = [i for i in dict.fromkeys(ids) if i not in self.nodes]
        for i in missing:
            self.problems.append(
                Problem(
                    code="patch-unknown-node",
                    message=f"{op}: node `{i}` is not in the graph",
                    subject=i,
                )
            )
        return bool(missing)

    def duplicate(self, op: str, nid: str) -> bool:
        if nid not in self.nodes:
            return False
        self.problems.append(
            Problem(
                code="patch-duplicate-node-id",
                message=f"{op}: node id `{nid}` is already in the graph",
                subject=nid,
            )
        )
        return True

    def missing_edge(self, op: str, edge: Edge) -> bool:
        if edge in self.edges:
            return False
        a, b = edge
        self.problems.append(
            Problem(
                code="patch-missing-static-edge",
                message=f"{op}: there is no static edge `{a}` -> `{b}`",
                subject=f"{a}->{b}",
                details={"from": a, "to": b},
            )
        )
        return True


def _lowered(fn: Callable[..., Any], node_id: str) -> CoreFn:
    plain = fn.fn if isinstance(fn, NodeDef) else fn
    check_node_signature(plain, node_id)
    return lower_node_fn(plain, node_id)


@attrs.frozen
class _Replace:
    node: str
    fn: CoreFn
    retry: RetryPolicy | _Keep | None
    blocking: bool | _Keep
    is_async: bool

    def apply(self, w: _Work) -> None:
        if w.unknown(f"replace_node({self.node!r})", self.node):
            return
        old = w.nodes[self.node]
        retry = old.retry if self.retry is KEEP else self.retry
        if self.blocking is KEEP:
            blocking = old.blocking and not self.is_async
        else:
            blocking = self.blocking
        w.nodes[self.node] = _NodeState(self.fn, retry, blocking)
        w.replaced.add(self.node)


@attrs.frozen
class _AddNode:
    node: str
    fn: CoreFn
    retry: RetryPolicy | None
    blocking: bool
    op: str

    def apply(self, w: _Work) -> None:
        if not w.duplicate(self.op, self.node):
            w.nodes[self.node] = _NodeState(self.fn, self.retry, self.blocking)


@attrs.frozen
class _Probe:
    probe: _AddNode
    between: str
    and_: str

    def apply(self, w: _Work) -> None:
        op = f"insert_probe({self.probe.node!r}, between={self.between!r}, and_={self.and_!r})"
        bad = w.duplicate(op, self.probe.node)
        bad = w.unknown(op, self.between, self.and_) or bad
        edge = (self.between, self.and_)
        if bad or w.missing_edge(op, edge):
            return
        self.probe.apply(w)
        at = w.edges.index(edge)
        w.edges[at : at + 1] = [
            (self.between, self.probe.node),
            (self.probe.node, self.and_),
        ]


@attrs.frozen
class _AddEdge:
    edge: Edge

    def apply(self, w: _Work) -> None:
        if not w.unknown(f"add_edge{self.edge!r}", *self.edge):
            w.edges.append(self.edge)


@attrs.frozen
class _RemoveEdge:
    edge: Edge

    def apply(self, w: _Work) -> None:
        op = f"remove_edge{self.edge!r}"
        if not w.unknown(op, *self.edge) and not w.missing_edge(op, self.edge):
            w.edges.remove(self.edge)


@attrs.frozen
class _RemoveNode:
    node: str

    def apply(self, w: _Work) -> None:
        nid = self.node
        op = f"remove_node({nid!r})"
        if w.unknown(op, nid):
            return
        conflicts = []
        if nid in w.start:
            conflicts.append("it is a start node")
        conflicts += [
            f"it takes part in join `{'+'.join(sorted(p))}` -> `{t}`"
            for p, t in w.joins
            if nid == t or nid in p
        ]
        for why in conflicts:
            w.problems.append(
                Problem(code="patch-conflict", message=f"{op}: {why}", subject=nid)
            )
        if conflicts:
            return
        del w.nodes[nid]
        w.edges = [e for e in w.edges if nid not in e]
        w.routers.pop(nid, None)
        w.replaced.discard(nid)


_Op: TypeAlias = _Replace | _AddNode | _Probe | _AddEdge | _RemoveEdge | _RemoveNode


def _diff(old: GraphIR, new: GraphIR, replaced: set[str]) -> PatchDiff:
    old_nodes = {n.id: n for n in old.nodes}
    new_nodes = {n.id: n for n in new.nodes}
    kept = old_nodes.keys() & new_nodes.keys()
    updated = {
        nid
        for nid in kept
        if nid in replaced
        or old_nodes[nid] != new_nodes[nid]
        or (nid in old.routers) != (nid in new.routers)
    }
    old_edges = Counter((e.source, e.target) for e in old.edges)
    new_edges = Counter((e.source, e.target) for e in new.edges)
    return PatchDiff(
        added_nodes=tuple(sorted(new_nodes.keys() - old_nodes.keys())),
        removed_nodes=tuple(sorted(old_nodes.keys() - new_nodes.keys())),
        updated_nodes=tuple(sorted(updated)),
        added_edges=tuple(sorted((new_edges - old_edges).elements())),
        removed_edges=tuple(sorted((old_edges - new_edges).elements())),
    )


# ----------------------------------------------------------------------- patch


@final
class WorkflowPatch:
    """A recipe of graph edits; ``apply`` it to any number of compiled graphs.

    Operations are applied in the order they were added; each one sees the graph as
    patched by the earlier ones. Problems are collected across all operations and
    raised together as one ``PatchError``. Node functions follow the DSL rules (one
    node-input parameter; return ``Effects``, a primitive, ``NodeOutput`` or
    ``None``).
    """

    def __init__(self) -> None:
        self._ops: list[_Op] = []

    def replace_node(
        self,
        node: NodeRef,
        fn: Callable[..., Any],
        *,
        retry: RetryPolicy | _Keep | None = KEEP,
        blocking: bool | _Keep = KEEP,
    ) -> Self:
        """Swap ``node``'s function; keep its edges, router and joins.

        ``retry`` and ``blocking`` default to the replaced node's (``blocking`` is
        dropped when the new function is async); pass ``retry=None`` to remove a
        policy.
        """
        nid = node_id_of(node)
        plain = fn.fn if isinstance(fn, NodeDef) else fn
        self._ops.append(
            _Replace(nid, _lowered(fn, nid), retry, blocking, is_async_callable(plain))
        )
        return self

    def insert_probe(
        self,
        probe: Callable[..., Any],
        *,
        between: NodeRef,
        and_: NodeRef,
        node_id: str | None = None,
        retry: RetryPolicy | None = None,
        blocking: bool = False,
    ) -> Self:
        """Route the static edge ``between -> and_`` through a new node.

        The first such edge in ``between``'s edge list becomes ``between -> probe``
        and the probe gets the single edge ``probe -> and_``. The probe usually
        returns ``None`` (follow its edge) after looking at the store.
        """
        nid = node_id or _name(probe)
        add = _AddNode(nid, _lowered(probe, nid), retry, blocking, "insert_probe")
        self._ops.append(_Probe(add, node_id_of(between), node_id_of(and_)))
        return self

    def add_node(
        self,
        fn: Callable[..., Any],
        *,
        node_id: str | None = None,
        retry: RetryPolicy | None = None,
        blocking: bool = False,
    ) -> Self:
        """Add a node (connect it with ``add_edge``)."""
        nid = node_id or _name(fn)
        self._ops.append(
            _AddNode(nid, _lowered(fn, nid), retry, blocking, f"add_node({nid!r})")
        )
        return self

    def add_edge(self, source: NodeRef, target: NodeRef) -> Self:
        """Add the static edge ``source -> target`` after all existing ones."""
        self._ops.append(_AddEdge((node_id_of(source), node_id_of(target))))
        return self

    def remove_edge(self, source: NodeRef, target: NodeRef) -> Self:
        """Remove the first static edge ``source -> target``."""
        self._ops.append(_RemoveEdge((node_id_of(source), node_id_of(target))))
        return self

    def remove_node(self, node: NodeRef) -> Self:
        """Remove a node with its edges and router. Start nodes and nodes in a join
        cannot be removed (``PatchConflictError``); a router elsewhere that still
        names the node fails at run time with ``UnknownNodeError``."""
        self._ops.append(_RemoveNode(node_id_of(node)))
        return self

    # --------------------------------------------------------------- apply

    def apply(self, graph: CompiledGraph | Workflow) -> PatchResult:
        """Build the patched graph and the diff against ``graph``.

        Raises:
            PatchError: (or one of its subclasses) listing every problem.
            CompilationError: if the patched graph is invalid (e.g. a cycle).
        """
        if isinstance(graph, Workflow):
            graph = graph.compile()
        ir = graph.ir
        w = _Work(
            nodes={
                nid: _NodeState(spec.fn, spec.retry, spec.blocking)
                for nid, spec in graph.nodes.items()
            },
            edges=[(e.source, e.target) for e in ir.edges],
            joins=[(j.parents, j.target) for j in ir.joins],
            routers={nid: graph.nodes[nid].router for nid in ir.routers},
            start=list(ir.start),
        )
        for op in self._ops:
            op.apply(w)
        if w.problems:
            codes = {p.code for p in w.problems}
            cls = _ERRORS[codes.pop()] if len(codes) == 1 else PatchError
            raise cls(w.problems)
        g = GraphBuilder(graph.schema, start=w.start)
        for nid in sorted(w.nodes):
            node = w.nodes[nid]
            g.add_node(nid, node.fn, retry_policy=node.retry, blocking=node.blocking)
        for src, dst in w.edges:
            g.add_edge(src, dst)
        for parents, target in w.joins:
            g.add_join_edge(parents, target)
        for nid in sorted(w.routers):
            g.add_router(nid, w.routers[nid])
        g.set_output_projection(ir.output)
        patched = g.compile()
        return PatchResult(patched, _diff(ir, patched.ir, w.replaced))

    # ------------------------------------------------------------- migrate

    async def migrate(
        self,
        old_graph: CompiledGraph,
        new_graph: CompiledGraph,
        store: CheckpointStore,
        thread_id: str,
    ) -> Checkpoint:
        """Re-save ``thread_id``'s latest checkpoint under ``new_graph``'s version.

        ``new_graph`` must be this patch applied to ``old_graph`` (else the refusal
        is ``not-this-patch``, checked first; a new graph with another schema is
        refused as ``schema-changed``). The rest is
        ``hive_core.persistence.migrate_checkpoint``, told which nodes the patch
        replaced: the move is done only if neither the thread's frontier nor a partly
        filled join barrier touches what the patch changed.

        Raises:
            MigrationError: with ``reason`` naming why nothing was saved.
        """
        changed = self._replaced_nodes(old_graph, new_graph, thread_id)
        return await migrate_checkpoint(
            old_graph, new_graph, store, thread_id, changed_nodes=changed
        )

    def migrate_sync(
        self,
        old_graph: CompiledGraph,
        new_graph: CompiledGraph,
        store: CheckpointStore,
        thread_id: str,
    ) -> Checkpoint:
        """Blocking ``migrate`` for scripts; not callable inside an event loop."""
        changed = self._replaced_nodes(old_graph, new_graph, thread_id)
        return migrate_checkpoint_sync(
            old_graph, new_graph, store, thread_id, changed_nodes=changed
        )

    def _replaced_nodes(
        self, old_graph: CompiledGraph, new_graph: CompiledGraph, thread_id: str
    ) -> tuple[str, ...]:
        """The nodes this patch updates in ``old_graph``, after checking that
        ``new_graph`` is this patch applied to it."""
        expected = self.apply(old_graph)
        same_schema = old_graph.schema_version == new_graph.schema_version
        if same_schema and expected.graph.graph_version != new_graph.graph_version:
            raise MigrationError(
                f"Cannot migrate thread `{thread_id}`: the new graph is not this "
                "patch applied to the old one\n\n"
                "Fix: pass the graph `patch.apply(old_graph)` returned, or finish the "
                "thread on the old graph first.",
                reason="not-this-patch",
                thread_id=thread_id,
                subject=new_graph.graph_version,
            )
        return expected.diff.updated_nodes


def _name(fn: Callable[..., Any]) -> str:
    if isinstance(fn, NodeDef):
        return fn.id
    name = function_name(fn)
    if name is None:
        raise DefinitionError(
            f"{type(fn).__name__} object has no __name__ to use as node id; pass "
            "node_id=...\n\n"
            "Incorrect: patch.add_node(callable_object)\n"
            'Correct:   patch.add_node(callable_object, node_id="probe")',
            subject=type(fn).__name__,
        )
    return name
