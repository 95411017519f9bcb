"""Deterministic waits for tests: conditions and turns, never a guess at timing."""

from __future__ import annotations

import asyncio
import time
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


def holds_soon(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Block until ``condition`` holds, for a state another thread or process
    changes (polled every 5 ms); ``timeout`` only bounds a broken test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)
