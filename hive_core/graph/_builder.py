"""Building graphs: ``GraphBuilder`` collects definitions, ``compile()`` checks them.

The builder records everything as given (duplicates included) so that compile can
report every problem at once, in a fixed order (docs/concepts/graphs.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from ..errors import DefinitionError
from ..nodes import NodeFn, RouterFn, is_async_callable
from ..state._channels import Channel
from ..state._schema import Schema, SchemaSpec, resolve_schema
from ._compiled import CompiledGraph
from ._compiler import _NodeDef, compile_graph
from ._ir import RetryPolicy

__all__ = ["GraphBuilder"]


def _check_callable(fn: object, what: str, name: str) -> None:
    if not callable(fn):
        raise DefinitionError(
            f"{what} `{name}` must be callable, got {type(fn).__name__}", subject=name
        )


class GraphBuilder:
    """Collects nodes, edges, joins and routers, then compiles them.

    ```python
    g = GraphBuilder(Counter, start=["A"])
    g.add_node("A", step_a)
    g.add_edge("A", "B")
    graph = g.compile()
    ```
    """

    def __init__(self, schema: type[Schema] | SchemaSpec, start: Sequence[str]) -> None:
        self.schema: SchemaSpec = resolve_schema(schema)
        self.start: tuple[str, ...] = tuple(start)
        self.nodes: list[_NodeDef] = []
        self.edges: list[tuple[str, str]] = []
        self.joins: list[tuple[tuple[str, ...], str]] = []
        self.routers: list[tuple[str, RouterFn]] = []
        self.output: tuple[str, ...] | None = None

    def add_node(
        self,
        node_id: str,
        fn: NodeFn,
        *,
        retry_policy: RetryPolicy | None = None,
        blocking: bool = False,
        cpu_only: bool = False,
    ) -> Self:
        """Add a node; ``blocking=True`` runs a sync function in a worker thread.

        A sync function in a step with other tasks runs on the bounded node thread
        pool, so sync I/O does not serialise a fan-out; ``cpu_only=True`` keeps it
        on the calling thread (pure computation gains nothing from threads). See
        ``docs/concepts/execution.md``. Neither changes the graph version.
        """
        _check_callable(fn, "Node function for", node_id)
        if blocking and is_async_callable(fn):
            raise DefinitionError(
                f"Node `{node_id}` is async; blocking=True is only for sync functions",
                subject=node_id,
            )
        if cpu_only and (blocking or is_async_callable(fn)):
            raise DefinitionError(
                f"Node `{node_id}`: cpu_only=True is only for plain sync functions "
                "(not async, not blocking=True)",
                subject=node_id,
            )
        self.nodes.append(_NodeDef(node_id, fn, retry_policy, blocking, cpu_only))
        return self

    def add_edge(self, from_node: str, to_node: str) -> Self:
        """A static edge, followed when a node's output says ``GRAPH_EDGES``."""
        self.edges.append((from_node, to_node))
        return self

    def add_join_edge(self, parents: Sequence[str], target: str) -> Self:
        """Schedule ``target`` once every parent has run (in any steps)."""
        self.joins.append((tuple(parents), target))
        return self

    def add_router(self, from_node: str, fn: RouterFn) -> Self:
        """Decide the next nodes after ``from_node`` from a fresh-read view."""
        _check_callable(fn, "Router for", from_node)
        self.routers.append((from_node, fn))
        return self

    def set_output_projection(
        self, channels: Sequence[Channel[Any] | str] | None
    ) -> Self:
        """Outcome output: ``None`` for the full store, else these global channels."""
        if channels is None:
            self.output = None
        else:
            self.output = tuple(c if isinstance(c, str) else c.id for c in channels)
        return self

    def compile(self, *, graph_version_override: str | None = None) -> CompiledGraph:
        """Validate everything and return an immutable ``CompiledGraph``.

        Raises:
            CompilationError: with every problem found, in a fixed order.
        """
        return compile_graph(self, graph_version_override=graph_version_override)
