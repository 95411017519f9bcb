"""The in-memory checkpoint store: encoded bytes in dicts, for tests and short runs."""

from __future__ import annotations

from ._format import (
    Checkpoint,
    CheckpointSummary,
    _decode_named,
    encode_checkpoint,
    latest_key,
    summarize,
)

__all__ = ["InMemoryCheckpointStore"]


class InMemoryCheckpointStore:
    """A dict of encoded checkpoints per thread; for tests and short-lived runs.

    Stores encoded bytes (not objects) so a round-trip through it exercises the
    same codec path as a database would.
    """

    inline = True
    """Never awaits a real future: usable by ``run_sync`` without an event loop."""

    def __init__(self) -> None:
        self._threads: dict[str, dict[str, bytes]] = {}
        self._summaries: dict[str, dict[str, CheckpointSummary]] = {}
        self._latest: dict[str, tuple[int, str]] = {}

    async def save(self, checkpoint: Checkpoint) -> None:
        data = encode_checkpoint(checkpoint)
        thread = checkpoint.thread_id
        self._threads.setdefault(thread, {})[checkpoint.id] = data
        self._summaries.setdefault(thread, {})[checkpoint.id] = summarize(checkpoint)
        key = latest_key(checkpoint)
        if thread not in self._latest or key > self._latest[thread]:
            self._latest[thread] = key

    async def load_latest(self, thread_id: str) -> Checkpoint | None:
        """Decodes one checkpoint, not the thread's history."""
        key = self._latest.get(thread_id)
        if key is None:
            return None
        return _decode_named(key[1], self._threads[thread_id][key[1]])

    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0 or None, got {limit}")
        found = sorted(
            self._summaries.get(thread_id, {}).values(), key=latest_key, reverse=True
        )
        return found if limit is None else found[:limit]

    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str
    ) -> Checkpoint | None:
        data = self._threads.get(thread_id, {}).get(checkpoint_id)
        return _decode_named(checkpoint_id, data) if data is not None else None

    async def thread_exists(self, thread_id: str) -> bool:
        return bool(self._threads.get(thread_id))
