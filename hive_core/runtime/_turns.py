"""One attempt at a time per thread, in arrival order (``docs/concepts/supersteps.md``).

A thread that nobody runs is not in the map; the first attempt takes it without
awaiting anything (``take_free``), later ones queue a future each and are handed
the thread in FIFO order when the one before releases it.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, final

if TYPE_CHECKING:
    import asyncio

__all__ = ["ThreadTurns"]


@final
class ThreadTurns:
    """The busy threads and, per thread, the attempts waiting for it."""

    __slots__ = ("_busy",)

    def __init__(self) -> None:
        self._busy: dict[str, deque[asyncio.Future[None]] | None] = {}

    def take_free(self, thread_id: str) -> bool:
        """Take the thread if nobody has it (no await, nothing allocated)."""
        busy = self._busy
        if thread_id in busy:
            return False
        busy[thread_id] = None
        return True

    async def take(self, thread_id: str) -> None:
        """Take the thread, waiting for the attempts before this one (FIFO)."""
        if self.take_free(thread_id):
            return
        import asyncio

        busy = self._busy
        queue = busy[thread_id]
        if queue is None:
            queue = busy[thread_id] = deque()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release(thread_id)  # we were handed the thread; pass it on
            raise

    def waiting(self, thread_id: str) -> int:
        """How many attempts wait for the thread (for tests and diagnostics)."""
        return len(self._busy.get(thread_id) or ())

    def release(self, thread_id: str) -> None:
        """Hand the thread to the next waiting attempt, or free it."""
        queue = self._busy[thread_id]
        while queue is not None and queue:
            fut = queue.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        del self._busy[thread_id]
