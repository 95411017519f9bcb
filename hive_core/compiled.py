"""``CompiledGraph``: the validated IR plus the functions and lookup tables beside it.

Everything the superstep loop needs is precomputed here once (successor tuples,
router per node, which joins a node feeds or consumes), so a step works on plain
dict reads and tuples instead of re-deriving structure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final

import attrs
import msgspec

from .ir import GraphIR, RetryPolicy
from .nodes import NodeFn, RouterFn
from .schema import SchemaSpec

__all__ = ["CompiledGraph", "JoinSpec", "NodeSpec", "render_mermaid"]


@final
class NodeSpec:
    """Run-time facts about one node, resolved at compile time."""

    __slots__ = (
        "blocking",
        "consumes",
        "contributes",
        "fn",
        "id",
        "inline",
        "is_async",
        "retry",
        "router",
        "successors",
    )

    def __init__(
        self,
        *,
        id: str,
        fn: NodeFn,
        is_async: bool,
        blocking: bool,
        retry: RetryPolicy | None,
        router: RouterFn | None,
        successors: tuple[str, ...],
        consumes: tuple[int, ...],
        contributes: tuple[int, ...],
    ) -> None:
        self.id = id
        self.fn = fn
        self.is_async = is_async
        self.blocking = blocking
        self.retry = retry
        self.router = router
        self.successors = successors
        self.consumes = consumes
        """Indices of joins whose target is this node."""
        self.contributes = contributes
        """Indices of joins that list this node as a parent."""
        self.inline = not is_async and not blocking and retry is None
        """A plain sync function: called directly on the loop's thread."""


@attrs.frozen
class JoinSpec:
    id: str
    parents: frozenset[str]
    target: str


@final
@attrs.frozen(eq=False)
class CompiledGraph:
    """An immutable, validated graph, ready for ``Runtime``.

    ``ir`` is plain data (its JSON is the graph's description); ``nodes`` holds the
    functions and tables the interpreter uses.
    """

    schema: SchemaSpec
    ir: GraphIR
    nodes: Mapping[str, NodeSpec]
    joins: tuple[JoinSpec, ...]

    @property
    def schema_version(self) -> str:
        """HSV1 of the schema."""
        return self.ir.schema_version

    @property
    def graph_version(self) -> str:
        """HGV1 of the graph (or the override given to ``compile``)."""
        return self.ir.graph_version

    @property
    def start(self) -> tuple[str, ...]:
        return self.ir.start

    @property
    def join_ids(self) -> tuple[str, ...]:
        return tuple(j.id for j in self.joins)

    def describe(self) -> dict[str, Any]:
        """Plain-data description (versions, start, nodes, edges, joins, routers)."""
        return msgspec.to_builtins(self.ir)  # type: ignore[no-any-return]

    def to_mermaid(self) -> str:
        """Mermaid ``flowchart LR`` in the original's exact format (no trailing
        newline)."""
        return render_mermaid(self.ir)


def _escape(label: str) -> str:
    return label.replace('"', '\\"')


def render_mermaid(ir: GraphIR) -> str:
    """Render the IR as Mermaid; deterministic line for line."""
    alias = {n.id: f"node_{i}" for i, n in enumerate(ir.nodes)}
    lines = ["flowchart LR"]
    lines += [f'  {alias[n.id]}["{_escape(n.id)}"]' for n in ir.nodes]
    if ir.routers:
        lines.append("  classDef router fill:#fff7ed,stroke:#c2410c,stroke-width:1px;")
        lines += [f"  class {alias[r]} router" for r in ir.routers]
    lines += [f"  {alias[e.source]} --> {alias[e.target]}" for e in ir.edges]
    if ir.joins:
        lines.append("  classDef join fill:#eff6ff,stroke:#1d4ed8,stroke-width:1px;")
    for k, join in enumerate(ir.joins, start=1):
        jid = f"join_{k}"
        lines.append(f'  {jid}{{"{_escape(join.id)}"}}')
        lines.append(f"  class {jid} join")
        lines += [f"  {alias[p]} --> {jid}" for p in join.parents]
        lines.append(f"  {jid} --> {alias[join.target]}")
    return "\n".join(lines)
