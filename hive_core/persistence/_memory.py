"""The in-memory checkpoint store: encoded bytes in dicts, for tests and short runs."""

from __future__ import annotations

from ..errors import CheckpointDecodeError, CheckpointEncodeError
from ._fence import UNFENCED, ExpectedLatest, check_expected, fence
from ._format import (
    Checkpoint,
    CheckpointSummary,
    check_checkpoint,
    check_limit,
    decode_checkpoint,
    encode_checkpoint,
    latest_key,
    summarize,
)
from ._threads import validate_thread_id

__all__ = ["InMemoryCheckpointStore"]


class InMemoryCheckpointStore:
    """A dict of encoded checkpoints per thread; for tests and short-lived runs.

    Stores encoded bytes (not objects) so a round-trip through it exercises the
    same codec path as a database would, CRC included: a damaged entry raises
    ``CheckpointCorruptError`` naming its thread and checkpoint. It accepts and
    refuses exactly what ``SQLiteCheckpointStore`` does.
    """

    inline = True
    """Never awaits a real future: usable by ``run_sync`` without an event loop."""

    def __init__(self) -> None:
        self._threads: dict[str, dict[str, bytes]] = {}
        self._summaries: dict[str, dict[str, CheckpointSummary]] = {}
        self._latest: dict[str, tuple[int, str]] = {}

    async def save(
        self, checkpoint: Checkpoint, *, expected_latest: ExpectedLatest = UNFENCED
    ) -> None:
        data = encode_checkpoint(check_checkpoint(checkpoint))
        check_expected(expected_latest)
        # Decoding now, not at the next load, turns a field of the wrong type into
        # an error of this save instead of a thread that can never load again.
        try:
            decode_checkpoint(data, checkpoint_id=checkpoint.id)
        except CheckpointDecodeError as exc:
            raise CheckpointEncodeError("checkpoint", reason=exc.reason) from exc
        thread = checkpoint.thread_id
        latest = self._latest.get(thread)
        fence(
            thread,
            checkpoint.id,
            expected_latest,
            None if latest is None else latest[1],
        )
        self._threads.setdefault(thread, {})[checkpoint.id] = data
        self._summaries.setdefault(thread, {})[checkpoint.id] = summarize(checkpoint)
        key = latest_key(checkpoint)
        if latest is None or key > latest:
            self._latest[thread] = key
        elif latest[1] == checkpoint.id:  # the latest itself moved to a lower step
            self._latest[thread] = max(
                map(latest_key, self._summaries[thread].values())
            )

    async def load_latest(self, thread_id: str) -> Checkpoint | None:
        """Decodes one checkpoint, not the thread's history."""
        key = self._latest.get(validate_thread_id(thread_id))
        if key is None:
            return None
        data = self._threads[thread_id][key[1]]
        return decode_checkpoint(data, thread_id=thread_id, checkpoint_id=key[1])

    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        validate_thread_id(thread_id)
        check_limit(limit)
        found = sorted(
            self._summaries.get(thread_id, {}).values(), key=latest_key, reverse=True
        )
        return found if limit is None else found[:limit]

    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str
    ) -> Checkpoint | None:
        validate_thread_id(thread_id)
        validate_thread_id(checkpoint_id, what="checkpoint id")
        data = self._threads.get(thread_id, {}).get(checkpoint_id)
        if data is None:
            return None
        return decode_checkpoint(data, thread_id=thread_id, checkpoint_id=checkpoint_id)

    async def thread_exists(self, thread_id: str) -> bool:
        return bool(self._threads.get(validate_thread_id(thread_id)))

    async def delete_thread(self, thread_id: str) -> bool:
        """Remove every checkpoint of the thread; whether it had any."""
        validate_thread_id(thread_id)
        self._summaries.pop(thread_id, None)
        self._latest.pop(thread_id, None)
        return bool(self._threads.pop(thread_id, None))
