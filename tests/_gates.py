"""Deterministic waits for async tests: conditions and turns, never wall-clock time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition`` holds (no wall-clock wait)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def idle(turns: int = 50) -> None:
    """Give every ready task ``turns`` chances to run (no wall-clock wait)."""
    for _ in range(turns):
        await asyncio.sleep(0)
