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

from ..nodes import NodeFn, RouterFn
from ..state._schema import SchemaSpec
from ._ir import GraphIR, RetryPolicy

__all__ = ["CompiledGraph", "JoinSpec", "NodeSpec"]


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
        "pooled",
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
        cpu_only: bool = False,
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
        """A plain sync function: called directly, never awaited."""
        self.pooled = self.inline and not cpu_only
        """Runs on the node thread pool when its step has other pooled tasks."""


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
        """Mermaid ``flowchart LR`` in a fixed, byte-exact format (no trailing
        newline; docs/concepts/graphs.md)."""
        from ._mermaid import render_mermaid

        return render_mermaid(self.ir)
