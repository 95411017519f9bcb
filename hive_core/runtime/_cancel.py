"""The cancel guard: a cancel is observed at step boundaries, never mid-commit.

See ``docs/concepts/supersteps.md#cancellation-and-limits``.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["CancelGuard"]


class CancelGuard:
    """Absorbs the task's ``CancelledError`` when the attempt asked to be cancelled.

    A cancel is observed at the next step boundary, never in the middle of emitting
    or committing; so wherever the loop awaits, a ``CancelledError`` that the
    attempt requested is swallowed (and the task uncancelled), and one it did not
    request propagates. ``caught`` tells the caller which happened. asyncio is only
    imported once a cancellation actually arrives.
    """

    __slots__ = ("_is_cancelled", "caught")

    def __init__(self, is_cancelled: Callable[[], bool]) -> None:
        self._is_cancelled = is_cancelled
        self.caught = False

    def __enter__(self) -> CancelGuard:
        return self

    def __exit__(self, et: type[BaseException] | None, *_: object) -> bool:
        if et is None:
            return False
        import asyncio

        if not issubclass(et, asyncio.CancelledError) or not self._is_cancelled():
            return False
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        self.caught = True
        return True
