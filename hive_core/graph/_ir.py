"""The graph IR: plain, frozen data describing a compiled graph.

No callables live here; node and router functions sit beside the IR in
``CompiledGraph``, keyed by node id. That keeps the IR encodable, comparable and
snapshot-friendly (``msgspec.json.encode(graph.ir)`` is its plain-data description).
"""

from __future__ import annotations

import math

import msgspec

__all__ = ["EdgeIR", "GraphIR", "JoinIR", "NodeIR", "RetryPolicy", "join_id"]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Exponential backoff for one node's task; sleeps use the injected clock.

    After failed attempt ``a`` (``a < max_attempts``) the runtime sleeps
    ``min(max_delay, initial_delay * factor ** (a - 1))`` seconds. No jitter: retries
    must replay identically.
    """

    max_attempts: int = 3
    """Total attempts including the first; at least 1."""
    initial_delay: float = 0.0
    """Seconds to wait after the first failure."""
    factor: float = 2.0
    """Growth per attempt; finite and at least 1.0."""
    max_delay: float = 60.0
    """Upper bound for any single wait, in seconds."""

    def delay_after(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1-based)."""
        return min(self.max_delay, self.initial_delay * self.factor ** (attempt - 1))

    def problem(self) -> str | None:
        """Why this policy is invalid, or ``None``."""
        if self.max_attempts < 1:
            return f"max_attempts must be >= 1, got {self.max_attempts}"
        if not math.isfinite(self.factor) or self.factor < 1.0:
            return f"factor must be finite and >= 1.0, got {self.factor}"
        if self.initial_delay < 0 or self.max_delay < 0:
            return "delays must be >= 0"
        return None


class NodeIR(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    """Unique node id (no ``+`` or ``:``)."""
    retry: RetryPolicy | None = None
    """Retry policy, if the node has one."""
    blocking: bool = False
    """Run a synchronous function in a worker thread instead of inline."""


class EdgeIR(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    target: str


class JoinIR(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    """Canonical id ``join:<sorted parents joined by +>:<target>``."""
    parents: tuple[str, ...]
    """Sorted parent node ids."""
    target: str


class GraphIR(msgspec.Struct, frozen=True, kw_only=True):
    """Everything about a compiled graph except its functions."""

    schema_version: str
    graph_version: str
    start: tuple[str, ...]
    """Start nodes in builder order."""
    nodes: tuple[NodeIR, ...]
    """All nodes, sorted by id."""
    edges: tuple[EdgeIR, ...]
    """Static edges in insertion order."""
    joins: tuple[JoinIR, ...]
    """Join edges in insertion order."""
    routers: tuple[str, ...]
    """Sorted ids of nodes that have a router."""
    output: tuple[str, ...] | None = None
    """Output projection: ``None`` for the full store, else sorted channel ids."""


def join_id(parents: tuple[str, ...] | list[str], target: str) -> str:
    """The canonical join id; why node ids may not contain ``+`` or ``:``."""
    return f"join:{'+'.join(sorted(parents))}:{target}"
