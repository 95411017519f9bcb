"""Graphs: the plain-data IR, the builder, the compiler and the compiled graph.

``GraphBuilder`` collects nodes, edges, joins and routers; ``compile()`` validates
everything at once (one ``CompilationError`` listing every problem) and returns a
``CompiledGraph`` with its HGV1 version and Mermaid rendering. See
``docs/concepts/graphs.md``.
"""

from __future__ import annotations

from .._exports import public
from ._builder import GraphBuilder
from ._compiled import CompiledGraph, JoinSpec, NodeSpec
from ._ir import EdgeIR, GraphIR, JoinIR, NodeIR, RetryPolicy

__all__ = [
    "CompiledGraph",
    "EdgeIR",
    "GraphBuilder",
    "GraphIR",
    "JoinIR",
    "JoinSpec",
    "NodeIR",
    "NodeSpec",
    "RetryPolicy",
]

public(__name__, __all__, globals())
