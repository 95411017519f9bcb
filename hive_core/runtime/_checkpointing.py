"""Between the runtime and a ``CheckpointStore``: when to save, and the round trip
through the graph's ``CheckpointCodec`` (``hive_core/persistence/_codec.py``, which
owns the encoding and every validation a loaded checkpoint must pass).

Policy and orchestration only; see ``docs/concepts/checkpoints.md``.
"""

from __future__ import annotations

from ..graph._compiled import CompiledGraph
from ..persistence._codec import CheckpointCodec, encode_value
from ..persistence._format import Checkpoint, CheckpointStore
from ..persistence._incremental import (
    ChannelChange,
    SaveCache,
    SaveChanges,
    incremental_save,
)
from ..run_types import CheckpointPolicy
from ..state._store import InitialCache
from ._state import Seed, ThreadState

__all__ = ["Checkpointer"]


class Checkpointer:
    """Saves and loads one graph's thread states in one store."""

    def __init__(
        self, graph: CompiledGraph, initial: InitialCache, store: CheckpointStore
    ) -> None:
        self.codec = CheckpointCodec(graph, initial)
        self.store = store
        self.last_size = 0
        """Channel-data bytes of the checkpoint ``save`` wrote last, counted in
        full even when only changes were written (observers report it)."""
        self.inline = bool(getattr(store, "inline", False))
        """The store never waits on a real future: runs may skip the event loop."""
        self.save_changes = incremental_save(store)
        """The store's incremental save, if it has one (``_incremental.py``)."""
        self.cache = SaveCache(keep_bytes=self.save_changes is None)

    async def after_commit(
        self,
        thread_id: str,
        policy: CheckpointPolicy,
        state: ThreadState,
        *,
        force: bool = False,
    ) -> str | None:
        """Save if the policy, an interrupt or ``force`` asks; return the id."""
        if not force and state.interruption is None and not policy.saves_at(state.step):
            return None
        return await self.save(thread_id, state)

    async def save(self, thread_id: str, state: ThreadState) -> str:
        """Encode and write only what changed since this writer's last save.

        Fenced on the checkpoint ``state`` was loaded from or last saved as: a
        thread another writer moved on raises ``CheckpointConflict`` and nothing
        is written (``docs/persistence.md``, "Fenced writes")."""
        if self.save_changes is None:
            return await self._save_full(thread_id, state)
        return await self._save_changes(thread_id, state, self.save_changes)

    async def _save_full(self, thread_id: str, state: ThreadState) -> str:
        """A whole checkpoint, its unchanged and appended bytes reused from memory."""
        cache = self.cache
        appended = dict(state.appended)
        values = state.values
        full = {
            ch.id: cache.full_bytes(
                thread_id, ch, values[ch.id], appended, encode_value
            )
            for ch in self.codec.checkpointed
        }
        cp = self.codec.encode(thread_id, state, full)
        await self.store.save(cp, expected_latest=state.latest_checkpoint_id)
        self.last_size = sum(len(raw) for raw in cp.global_data.values())
        for ch in self.codec.checkpointed:
            raw = full[ch.id]
            cache.remember(thread_id, ch, values[ch.id], len(raw), raw, None)
        return cp.id

    async def _save_changes(
        self, thread_id: str, state: ThreadState, save_changes: SaveChanges
    ) -> str:
        """Changed channels' bytes, the others as changes to their stream heads."""
        cache = self.cache
        appended = dict(state.appended)
        channels = self.codec.checkpointed
        values = state.values
        expected = state.latest_checkpoint_id
        data: dict[str, bytes] = {}
        changes: dict[str, ChannelChange] = {}
        lengths: list[int] = []
        for ch in channels:
            found, length = cache.change(
                thread_id, ch, values[ch.id], appended, encode_value
            )
            if isinstance(found, bytes):
                data[ch.id] = found
            else:
                changes[ch.id] = found
            lengths.append(length)
        cp = self.codec.encode(thread_id, state, data)
        tokens = await save_changes(cp, changes, expected_latest=expected)
        if tokens is None:  # a stream moved under the fence (same id re-saved)
            cache.forget(thread_id)
            data = {ch.id: encode_value(ch, values[ch.id]) for ch in channels}
            cp = self.codec.encode(thread_id, state, data)
            tokens = await save_changes(cp, {}, expected_latest=expected) or {}
            lengths = [len(data[ch.id]) for ch in channels]
        self.last_size = sum(lengths)
        for ch, length in zip(channels, lengths, strict=True):
            cache.remember(
                thread_id, ch, values[ch.id], length, None, tokens.get(ch.id)
            )
        return cp.id

    async def load_latest(self, thread_id: str) -> ThreadState | None:
        cp = await self.store.load_latest(thread_id)
        return None if cp is None else self.decode(cp)

    def decode(self, cp: Checkpoint) -> ThreadState:
        """Validate (typed errors, nothing runs) and rebuild the thread state."""
        d = self.codec.decode(cp)
        return ThreadState(
            run_id=d.run_id,
            step=d.step,
            values=d.values,
            frontier=tuple(
                Seed(s.node, s.local, spawned=s.spawned, is_join=s.is_join)
                for s in d.frontier
            ),
            barriers=d.barriers,
            interruption=d.interruption,
            latest_checkpoint_id=d.checkpoint_id,
        )
