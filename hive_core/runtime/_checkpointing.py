"""Between the runtime and a ``CheckpointStore``: when to save, and the round trip
through the graph's ``CheckpointCodec`` (``hive_core/persistence/_codec.py``, which
owns the encoding and every validation a loaded checkpoint must pass).

Policy and orchestration only; see ``docs/concepts/checkpoints.md``.
"""

from __future__ import annotations

from ..graph._compiled import CompiledGraph
from ..persistence._codec import CheckpointCodec
from ..persistence._format import Checkpoint, CheckpointStore
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
        self.last_saved: Checkpoint | None = None
        """The checkpoint ``save`` wrote last (observers read its size)."""
        self.inline = bool(getattr(store, "inline", False))
        """The store never waits on a real future: runs may skip the event loop."""

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
        """Save fenced on the checkpoint ``state`` was loaded from or last saved
        as: a thread another writer moved on raises ``CheckpointConflict`` and
        nothing is written (``docs/persistence.md``, "Fenced writes")."""
        cp = self.codec.encode(thread_id, state)
        await self.store.save(cp, expected_latest=state.latest_checkpoint_id)
        self.last_saved = cp
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
