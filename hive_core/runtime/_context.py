"""What an attempt needs from its runtime, as one frozen record.

``Attempt`` and ``Checkpointer`` see this instead of the whole ``Runtime``, so the
runtime module depends on the loop and never the other way round (see
``docs/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import final

import attrs

from ..environment import Environment
from ..graph._compiled import CompiledGraph
from ..state._store import InitialCache
from ._checkpointing import Checkpointer
from ._state import Seed, ThreadState

__all__ = ["CheckedOptions", "RunContext"]


@final
class CheckedOptions:
    """The last ``RunOptions`` this runtime's graph accepted, and the output
    projection they gave: most calls pass the same options object (or none, the
    runtime's default), so it is validated once (``Attempt.start``). Only options
    whose sequences are tuples are kept: nothing in them can change."""

    __slots__ = ("options", "projection")

    def __init__(self) -> None:
        self.options: object = None
        self.projection: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class RunContext:
    """One runtime's fixed parts: the graph, its caches, services and store."""

    graph: CompiledGraph
    initial: InitialCache
    empty_fingerprint: bytes
    environment: Environment
    checkpointer: Checkpointer | None
    start_seeds: tuple[Seed, ...]
    lone: Mapping[str, tuple[Seed, ...]]
    """Per node id, the frontier of that node's graph seed alone: most steps of a
    chain or loop commit to one, and a seed is never mutated, so it is shared."""
    inline: bool
    """Every node is plain sync without retries: steps never need an event loop."""
    publish: Callable[[str, ThreadState], None]
    """Make a committed state the thread's visible one (the runtime's thread map)."""
    checked: CheckedOptions = attrs.field(factory=CheckedOptions, eq=False)
