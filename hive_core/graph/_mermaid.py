"""Render a graph's IR as a Mermaid ``flowchart LR``, byte-exact and deterministic
(docs/concepts/graphs.md, "Describing and drawing a graph")."""

from __future__ import annotations

from ._ir import GraphIR

__all__ = ["render_mermaid"]


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
