"""The services a run hands to its nodes: clock, model, tools, memory, extras.

Nothing here is ambient: a node sees exactly the environment its runtime was built
with, which is how tests swap a real model for a scripted one and a wall clock for a
fake one without patching.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:  # the service packages stay unimported until a node uses them
    from ._observe import RunObserver

    # their protocol modules, which import nothing that imports this one
    from .memory._protocol import MemoryStore
    from .models._protocols import ModelClient, ModelRouter, ToolProvider

__all__ = ["Clock", "Environment", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Time as the runtime sees it: retries sleep on it, caches read it."""

    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep(self, seconds: float) -> None: ...


@attrs.frozen
class SystemClock:
    """The real monotonic clock and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        import asyncio  # here, not at the top: `import hive_core` stays cheap

        await asyncio.sleep(seconds)


@attrs.frozen(kw_only=True)
class Environment:
    """Services available to nodes through ``NodeInput.environment``.

    The runtime itself only uses ``clock``; the rest are for nodes (model calls,
    tools, memory), typed by their protocols in ``hive_core.models`` and
    ``hive_core.memory`` (imported for type checking only, so ``import hive_core``
    does not load them). See ``docs/agents.md`` and ``docs/memory.md``.
    """

    clock: Clock = attrs.field(factory=SystemClock)
    model: ModelClient | None = None
    model_router: ModelRouter | None = None
    tools: ToolProvider | None = None
    memory_store: MemoryStore | None = None
    extras: Mapping[str, object] = attrs.field(factory=dict)
    observer: RunObserver | None = None
    """Metrics or tracing hooks (``hive_core.observability``); ``None`` costs
    nothing. See ``docs/observability.md``."""
