"""The graph as SVG, drawn in Python from its shape (no JavaScript library).

Nodes sit in columns by depth from the start nodes (left to right), one ``<g
class="node">`` per node with a stable ``id`` (``node-<index in sorted order>``)
and a ``data-node`` attribute holding the node's id, so a page script can highlight
the nodes a step ran. Edges come from the compiled graph when it is given, else
from the transitions the trace shows (drawn dashed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..graph import CompiledGraph

__all__ = ["GraphShape", "graph_shape", "observed_shape", "render_svg"]

GraphShape = tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]
"""(start nodes, all nodes, edges)."""

_W, _H, _GX, _GY, _PAD = 132, 36, 60, 22, 16


def graph_shape(graph: CompiledGraph) -> GraphShape:
    """Start, nodes and static edges (join parents to their target)."""
    ir = graph.ir
    edges = {(e.source, e.target) for e in ir.edges}
    edges |= {(p, j.target) for j in ir.joins for p in j.parents}
    return tuple(ir.start), tuple(sorted(n.id for n in ir.nodes)), tuple(sorted(edges))


def observed_shape(steps: Sequence[Mapping[str, Any]]) -> GraphShape:
    """Nodes from the trace's tasks; an edge from each node of a step to each node
    of the next step of the same run (an approximation of the real edges)."""
    ran = [sorted({str(t["node"]) for t in s["tasks"]}) for s in steps]
    nodes = sorted({n for r in ran for n in r})
    edges = {
        (a, b)
        for prev, nxt, s in zip(ran, ran[1:], steps[1:], strict=False)
        if s["step"] > 0
        for a in prev
        for b in nxt
    }
    start = tuple(ran[0]) if ran else ()
    return start, tuple(nodes), tuple(sorted(edges))


def _layers(shape: GraphShape) -> dict[str, int]:
    start, nodes, edges = shape
    out: dict[str, list[str]] = {}
    for a, b in edges:
        out.setdefault(a, []).append(b)
    depth = {n: 0 for n in start if n in nodes}
    frontier = list(depth)
    while frontier:
        nxt = []
        for n in frontier:
            for m in sorted(out.get(n, ())):
                if m not in depth:
                    depth[m] = depth[n] + 1
                    nxt.append(m)
        frontier = nxt
    last = max(depth.values(), default=-1)
    for n in nodes:  # unreachable nodes go in a column of their own
        depth.setdefault(n, last + 1)
    return depth


def _positions(shape: GraphShape) -> dict[str, tuple[int, int]]:
    depth = _layers(shape)
    rows: dict[int, int] = {}
    pos = {}
    for n in shape[1]:
        col = depth[n]
        row = rows.get(col, 0)
        rows[col] = row + 1
        pos[n] = (_PAD + col * (_W + _GX), _PAD + row * (_H + _GY))
    return pos


def _edge(a: tuple[int, int], b: tuple[int, int], dashed: bool) -> str:
    x1, y1 = a[0] + _W, a[1] + _H // 2
    x2, y2 = b[0], b[1] + _H // 2
    if x2 <= x1:  # back edge: loop under the boxes
        low = max(a[1], b[1]) + _H + _GY // 2
        d = f"M{x1 - _W // 2},{a[1] + _H} C{x1 - _W // 2},{low} {x2 + _W // 2},{low} {x2 + _W // 2},{b[1] + _H}"
    else:
        mid = (x1 + x2) // 2
        d = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2 - 2},{y2}"
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    return f'<path class="edge" d="{d}"{dash} marker-end="url(#arrow)"/>'


def render_svg(shape: GraphShape, *, inferred: bool = False) -> str:
    """One ``<svg>`` element: edges first, then a ``<g class="node">`` per node."""
    pos = _positions(shape)
    width = max((x for x, _ in pos.values()), default=0) + _W + _PAD
    height = max((y for _, y in pos.values()), default=0) + _H + _PAD + _GY
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="graph-svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    parts += [_edge(pos[a], pos[b], inferred) for a, b in shape[2]]
    parts += [_node(i, n, pos[n], n in shape[0]) for i, n in enumerate(shape[1])]
    parts.append("</svg>")
    return "".join(parts)


def _node(index: int, name: str, at: tuple[int, int], start: bool) -> str:
    x, y = at
    label = name if len(name) <= 18 else name[:17] + "…"
    cls = "node start" if start else "node"
    return (
        f'<g class="{cls}" id="node-{index}" data-node="{escape(name)}">'
        f"<title>{escape(name)}</title>"
        f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="7"/>'
        f'<text x="{x + _W // 2}" y="{y + _H // 2 + 5}">{escape(label)}</text></g>'
    )


def shape_for(
    graph: CompiledGraph | None,
    steps: Sequence[Mapping[str, Any]],
    extra: Iterable[str],
) -> tuple[GraphShape, bool]:
    """The compiled graph's shape, else the observed one; ``True`` when inferred."""
    if graph is not None:
        return graph_shape(graph), False
    start, nodes, edges = observed_shape(steps)
    return (start, tuple(sorted(set(nodes) | set(extra))), edges), True
