"""``Runtime.delete_thread``: a thread forgotten here and deleted from the store.

Kept apart from ``_runtime.py`` so each module keeps one job; the store side is
each store's ``delete_thread`` (``docs/persistence.md``, "Deleting a thread").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from ..errors import CheckpointStoreUnsupportedError
from ..persistence._format import CheckpointStore
from ..persistence._threads import validate_thread_id
from ..run_types import Outcome
from ._checkpointing import Checkpointer
from ._state import ThreadState
from ._turns import ThreadTurns

__all__ = ["DeletionMixin"]

T = TypeVar("T")


class _Threads(Protocol):
    checkpoint_store: CheckpointStore | None
    _checkpointer: Checkpointer | None
    _threads: dict[str, ThreadState]
    _turns: ThreadTurns
    _last_outcomes: dict[str, Outcome]

    def _sync(self, name: str, twin: str, coro: Coroutine[Any, Any, T]) -> T: ...

    async def delete_thread(self, thread_id: str) -> bool: ...


def _store_delete(
    store: CheckpointStore, operation: str
) -> Callable[[str], Awaitable[bool]]:
    """The store's ``delete_thread``; a store without one is refused up front."""
    delete = getattr(store, "delete_thread", None)
    if delete is None:
        raise CheckpointStoreUnsupportedError(
            operation, store=type(store).__name__, method="delete_thread"
        )
    return delete  # type: ignore[no-any-return]


class DeletionMixin:
    """``delete_thread`` and its sync twin."""

    async def delete_thread(self: _Threads, thread_id: str) -> bool:
        """Delete the thread: every checkpoint of it in the store, and what this
        runtime keeps of it in memory. Returns whether there was anything.

        Waits for the thread's attempts already queued in this runtime (first in,
        first out, like a run). A run of the thread elsewhere (another runtime or
        process) fails its next save with ``CheckpointConflict`` and writes
        nothing. The id is free afterwards: a run under it starts a new thread.
        A store without ``delete_thread`` raises
        ``CheckpointStoreUnsupportedError`` before anything is touched."""
        validate_thread_id(thread_id)
        store = self.checkpoint_store
        delete = None if store is None else _store_delete(store, "delete_thread")
        await self._turns.take(thread_id)
        try:
            found = False
            if delete is not None:
                try:
                    found = await delete(thread_id)  # first: an error changes nothing
                except Exception:
                    raise
                except BaseException:  # cancelled: the delete may have committed
                    _forget(self, thread_id)
                    raise
            return _forget(self, thread_id) or found
        finally:
            self._turns.release(thread_id)

    def delete_thread_sync(self: _Threads, thread_id: str) -> bool:
        """Blocking ``delete_thread`` for scripts."""
        coro = self.delete_thread(thread_id)
        return self._sync("delete_thread_sync", "delete_thread", coro)


def _forget(rt: _Threads, thread_id: str) -> bool:
    """Drop what the runtime keeps of the thread; whether it kept its state."""
    if rt._checkpointer is not None:
        rt._checkpointer.cache.forget(thread_id)
    rt._last_outcomes.pop(thread_id, None)
    return rt._threads.pop(thread_id, None) is not None
