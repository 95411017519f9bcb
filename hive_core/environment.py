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

from ._lazy import LazyModule

if TYPE_CHECKING:
    import asyncio
else:  # imported on first use; see hive_core/_lazy.py
    asyncio = LazyModule("asyncio", __name__)

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
        await asyncio.sleep(seconds)


@attrs.frozen(kw_only=True)
class Environment:
    """Services available to nodes through ``NodeInput.environment``.

    The runtime itself only uses ``clock``; the rest are for nodes (model calls,
    tools, memory) and are typed ``object`` here so ``hive_core`` stays free of
    optional integrations.
    """

    clock: Clock = attrs.field(factory=SystemClock)
    model: object | None = None
    model_router: object | None = None
    tools: object | None = None
    memory_store: object | None = None
    extras: Mapping[str, object] = attrs.field(factory=dict)
