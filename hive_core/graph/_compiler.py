"""Compile a ``GraphBuilder`` into a ``CompiledGraph``, reporting every problem.

Problems are collected in a fixed validation order (schema registry, structure,
edges, routers, joins, output projection, static cycles) and raised together in one
``CompilationError``, so a user fixes a broken graph in one pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import attrs
import msgspec

from ..errors import CompilationError, Problem
from ..nodes import NodeFn, RouterFn, is_async_callable
from ..state._channels import Scope
from ..state._schema import SchemaSpec
from ._compiled import CompiledGraph, JoinSpec, NodeSpec
from ._ir import EdgeIR, GraphIR, JoinIR, NodeIR, RetryPolicy, join_id
from ._versioning import graph_version

__all__ = ["compile_graph"]

_RESERVED = ("+", ":")


@attrs.frozen
class _NodeDef:
    id: str
    fn: NodeFn
    retry: RetryPolicy | None
    blocking: bool
    cpu_only: bool = False


class Draft(Protocol):
    """What the compiler reads from a builder; ``GraphBuilder`` is the one. Typed
    by this protocol so the compiler does not import the builder that calls it."""

    @property
    def schema(self) -> SchemaSpec: ...
    @property
    def start(self) -> tuple[str, ...]: ...
    @property
    def nodes(self) -> Sequence[_NodeDef]: ...
    @property
    def edges(self) -> Sequence[tuple[str, str]]: ...
    @property
    def joins(self) -> Sequence[tuple[tuple[str, ...], str]]: ...
    @property
    def routers(self) -> Sequence[tuple[str, RouterFn]]: ...
    @property
    def output(self) -> tuple[str, ...] | None: ...


def _structure_problems(b: Draft, node_ids: set[str]) -> list[Problem]:
    out: list[Problem] = []
    if not b.start:
        out.append(Problem(code="start-empty", message="The start list is empty"))
    seen: set[str] = set()
    for s in b.start:
        if s in seen:
            out.append(
                Problem(
                    code="duplicate-start-node",
                    message=f"Start node `{s}` is listed more than once",
                    subject=s,
                )
            )
        seen.add(s)
    counts = Counter(n.id for n in b.nodes)
    for nid in sorted(k for k, v in counts.items() if v > 1):
        out.append(
            Problem(
                code="duplicate-node-id",
                message=f"Node id `{nid}` is added {counts[nid]} times",
                subject=nid,
            )
        )
    for nid in sorted(node_ids):
        if not nid or any(c in nid for c in _RESERVED):
            out.append(
                Problem(
                    code="reserved-character-in-node-id",
                    message=f"Node id `{nid}` is empty or contains `+` or `:`, which "
                    "join ids reserve",
                    subject=nid,
                )
            )
    for s in b.start:
        if s not in node_ids:
            out.append(
                Problem(
                    code="unknown-start-node",
                    message=f"Start node `{s}` is not a node of the graph",
                    subject=s,
                )
            )
    return out


def _edge_router_join_problems(b: Draft, node_ids: set[str]) -> list[Problem]:
    """Edges, then routers, then joins: the order ``docs/errors.md`` lists them."""
    return [
        *_edge_problems(b, node_ids),
        *_router_problems(b, node_ids),
        *_join_problems(b, node_ids),
    ]


def _edge_problems(b: Draft, node_ids: set[str]) -> list[Problem]:
    out: list[Problem] = []
    for src, dst in b.edges:
        for end in dict.fromkeys((src, dst)):  # a self-edge names its node once
            if end not in node_ids:
                out.append(
                    Problem(
                        code="unknown-edge-endpoint",
                        message=f"Edge `{src}` -> `{dst}` names unknown node `{end}`",
                        subject=end,
                        details={"from": src, "to": dst},
                    )
                )
    return out


def _router_problems(b: Draft, node_ids: set[str]) -> list[Problem]:
    out: list[Problem] = []
    routed: set[str] = set()
    for src, _fn in b.routers:
        if src not in node_ids:
            out.append(
                Problem(
                    code="unknown-router-source",
                    message=f"Router is attached to unknown node `{src}`",
                    subject=src,
                )
            )
        elif src in routed:
            out.append(
                Problem(
                    code="duplicate-router",
                    message=f"Node `{src}` has more than one router",
                    subject=src,
                )
            )
        routed.add(src)
    return out


def _join_problems(b: Draft, node_ids: set[str]) -> list[Problem]:
    out: list[Problem] = []
    seen_joins: set[str] = set()
    for parents, target in b.joins:
        jid = join_id(parents, target)
        if not parents:
            out.append(
                Problem(
                    code="join-parents-empty",
                    message=f"Join into `{target}` has no parents",
                    subject=target,
                )
            )
        dup = next((p for i, p in enumerate(parents) if p in parents[:i]), None)
        if dup is not None:
            out.append(
                Problem(
                    code="join-parents-duplicate",
                    message=f"Join into `{target}` lists parent `{dup}` twice",
                    subject=dup,
                    details={"target": target},
                )
            )
        if target in parents:
            out.append(
                Problem(
                    code="join-parents-contain-target",
                    message=f"Join into `{target}` lists its own target as a parent",
                    subject=target,
                )
            )
        for p in parents:
            if p not in node_ids:
                out.append(
                    Problem(
                        code="unknown-join-parent",
                        message=f"Join into `{target}` names unknown parent `{p}`",
                        subject=p,
                        details={"target": target},
                    )
                )
        if target not in node_ids:
            out.append(
                Problem(
                    code="unknown-join-target",
                    message=f"Join `{jid}` targets unknown node `{target}`",
                    subject=target,
                )
            )
        if jid in seen_joins:
            out.append(
                Problem(
                    code="duplicate-join-edge",
                    message=f"Join `{jid}` is added more than once",
                    subject=jid,
                )
            )
        seen_joins.add(jid)
    return out


def _output_problems(b: Draft) -> list[Problem]:
    out: list[Problem] = []
    if b.output is None:
        return out
    by_id = b.schema.by_id
    for cid in sorted(set(b.output)):
        ch = by_id.get(cid)
        if ch is None:
            out.append(
                Problem(
                    code="output-projection-unknown-channel",
                    message=f"Output projection names unknown channel `{cid}`",
                    subject=cid,
                )
            )
        elif ch.scope is Scope.TASK_LOCAL:
            out.append(
                Problem(
                    code="output-projection-task-local",
                    message=f"Output projection names task-local channel `{cid}`; "
                    "only global channels can be output",
                    subject=cid,
                )
            )
    return out


def _cycle_problem(b: Draft, node_ids: set[str]) -> list[Problem]:
    """Kahn's algorithm over static edges; loops must go through routers or next."""
    indegree = dict.fromkeys(node_ids, 0)
    succ: dict[str, list[str]] = {n: [] for n in node_ids}
    for src, dst in b.edges:
        if src in node_ids and dst in node_ids:
            succ[src].append(dst)
            indegree[dst] += 1
    ready = [n for n, d in indegree.items() if d == 0]
    while ready:
        n = ready.pop()
        for m in succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    left = sorted(n for n, d in indegree.items() if d > 0)
    if not left:
        return []
    return [
        Problem(
            code="static-cycle",
            message="Static edges form a cycle through "
            + ", ".join(f"`{n}`" for n in left)
            + "; loop with a router or next=[...] instead",
            subject=left[0],
            details={"nodes": ",".join(left)},
        )
    ]


def _retry_problems(b: Draft) -> list[Problem]:
    out: list[Problem] = []
    for n in sorted(b.nodes, key=lambda n: n.id):
        if n.retry is not None:
            why = n.retry.problem()
            if why is not None:
                out.append(
                    Problem(
                        code="invalid-retry-policy",
                        message=f"Retry policy of node `{n.id}` is invalid: {why}",
                        subject=n.id,
                    )
                )
    return out


def compile_graph(
    b: Draft, *, graph_version_override: str | None = None
) -> CompiledGraph:
    """Validate a builder and freeze it; see ``GraphBuilder.compile``."""
    node_ids = {n.id for n in b.nodes}
    problems = b.schema.problems()
    problems += _structure_problems(b, node_ids)
    problems += _edge_router_join_problems(b, node_ids)
    problems += _retry_problems(b)
    problems += _output_problems(b)
    problems += _cycle_problem(b, node_ids)
    if problems:
        raise CompilationError(problems)

    defs = {n.id: n for n in b.nodes}
    output = None if b.output is None else tuple(sorted(set(b.output)))
    joins_ir = tuple(
        JoinIR(id=join_id(p, t), parents=tuple(sorted(p)), target=t) for p, t in b.joins
    )
    ir = GraphIR(
        schema_version=b.schema.version,
        graph_version="",
        start=b.start,
        nodes=tuple(
            NodeIR(id=nid, retry=defs[nid].retry, blocking=defs[nid].blocking)
            for nid in sorted(defs)
        ),
        edges=tuple(EdgeIR(source=s, target=d) for s, d in b.edges),
        joins=joins_ir,
        routers=tuple(sorted(src for src, _ in b.routers)),
        output=output,
    )
    version = (
        graph_version_override
        if graph_version_override is not None
        else graph_version(ir)
    )
    ir = msgspec.structs.replace(ir, graph_version=version)

    routers: dict[str, RouterFn] = dict(b.routers)
    joins = tuple(JoinSpec(j.id, frozenset(j.parents), j.target) for j in joins_ir)
    successors: dict[str, list[str]] = {nid: [] for nid in defs}
    for s, d in b.edges:
        successors[s].append(d)
    nodes: dict[str, NodeSpec] = {}
    for nid in sorted(defs):
        nd = defs[nid]
        nodes[nid] = NodeSpec(
            id=nid,
            fn=nd.fn,
            is_async=is_async_callable(nd.fn),
            blocking=nd.blocking,
            cpu_only=nd.cpu_only,
            retry=nd.retry,
            router=routers.get(nid),
            successors=tuple(successors[nid]),
            consumes=tuple(i for i, j in enumerate(joins) if j.target == nid),
            contributes=tuple(i for i, j in enumerate(joins) if nid in j.parents),
        )
    return CompiledGraph(schema=b.schema, ir=ir, nodes=nodes, joins=joins)
