"""HGV1: the graph version, a SHA-256 over the IR's structure in a fixed layout.

The schema's HSV1 lives beside the schema (``hive_core/state/_schema.py``) because the
state layer may not import the graph layer; see ``docs/architecture.md``.
"""

from __future__ import annotations

import hashlib
import struct

from ..ids import lp
from ._ir import GraphIR

__all__ = ["graph_version"]


def _u32(n: int) -> bytes:
    return struct.pack(">I", n)


def graph_version(ir: GraphIR) -> str:
    """HGV1 over start, sorted nodes, routers, edges, joins and output projection.

    Later features add a tagged section only when used: ``P`` for retry policies, so
    a graph without them keeps the version it always had (docs/concepts/graphs.md,
    "Versions").
    """
    parts = [b"HGV1", b"S", _u32(len(ir.start))]
    parts += [lp(s) for s in ir.start]
    parts += [b"N", _u32(len(ir.nodes))]
    parts += [lp(n.id) for n in ir.nodes]
    parts += [b"R", _u32(len(ir.routers))]
    parts += [lp(r) for r in ir.routers]
    parts += [b"E", _u32(len(ir.edges))]
    for e in ir.edges:
        parts += [lp(e.source), lp(e.target)]
    parts += [b"J", _u32(len(ir.joins))]
    for j in ir.joins:
        parts += [lp(j.target), _u32(len(j.parents))]
        parts += [lp(p) for p in j.parents]
    parts.append(b"O")
    if ir.output is None:
        parts.append(b"\x00")
    else:
        parts += [b"\x01", _u32(len(ir.output))]
        parts += [lp(c) for c in ir.output]
    with_retry = [n for n in ir.nodes if n.retry is not None]
    if with_retry:
        parts += [b"P", _u32(len(with_retry))]
        for n in with_retry:
            r = n.retry
            if r is None:  # pragma: no cover - filtered above; narrows the type
                continue
            parts += [
                lp(n.id),
                struct.pack(">Q", round(r.initial_delay * 1e9)),
                struct.pack(">d", r.factor),
                struct.pack(">q", r.max_attempts),
                struct.pack(">Q", round(min(r.max_delay, 1.8e10) * 1e9)),
            ]
    return hashlib.sha256(b"".join(parts)).hexdigest()
