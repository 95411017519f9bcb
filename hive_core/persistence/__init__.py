"""Checkpoints and where they live: the format, the store protocol, the stores.

A ``Checkpoint`` holds codec bytes and plain strings, encoded with msgspec and never
unpickled. ``InMemoryCheckpointStore`` is for tests; ``SQLiteCheckpointStore`` is the
embedded default (WAL, one transaction per save, delta chains). See
``docs/concepts/checkpoints.md`` and ``docs/concepts/checkpoint-storage.md``.
"""

from __future__ import annotations

from .._exports import public
from ._format import (
    CHECKPOINT_FORMAT_VERSION,
    Checkpoint,
    CheckpointInterruption,
    CheckpointStore,
    CheckpointSummary,
    FrontierEntry,
    decode_checkpoint,
    encode_checkpoint,
)
from ._memory import InMemoryCheckpointStore
from ._migrate import (
    MigrationError,
    MigrationReason,
    migrate_checkpoint,
    migrate_checkpoint_sync,
)
from ._sqlite import SQLiteCheckpointStore

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "Checkpoint",
    "CheckpointInterruption",
    "CheckpointStore",
    "CheckpointSummary",
    "FrontierEntry",
    "InMemoryCheckpointStore",
    "MigrationError",
    "MigrationReason",
    "SQLiteCheckpointStore",
    "decode_checkpoint",
    "encode_checkpoint",
    "migrate_checkpoint",
    "migrate_checkpoint_sync",
]

public(__name__, __all__, globals())
