"""Checkpoints and where they live: the format, the store protocol, the stores.

A ``Checkpoint`` holds codec bytes and plain strings, encoded with msgspec and never
unpickled. ``InMemoryCheckpointStore`` is for tests; ``SQLiteCheckpointStore`` is the
embedded default (WAL, one transaction per save, delta chains). Every store
failure is a typed ``HiveError``: ``StoreBusyError`` (retryable),
``StoreDamagedError``, ``StoreClosedError``, ``InvalidThreadIdError`` and the
checkpoint decode/corruption errors. See ``docs/concepts/checkpoints.md`` and
``docs/concepts/checkpoint-storage.md``.
"""

from __future__ import annotations

from .._exports import public
from ._connection import BusyPolicy
from ._errors import (
    InvalidStoreOptionError,
    InvalidThreadIdError,
    StoreBusyError,
    StoreClosedError,
    StoreDamagedError,
    StoreError,
)
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
from ._sqlite import STORE_SCHEMA_VERSION, SQLiteCheckpointStore
from ._threads import MAX_THREAD_ID_BYTES, validate_thread_id

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "MAX_THREAD_ID_BYTES",
    "STORE_SCHEMA_VERSION",
    "BusyPolicy",
    "Checkpoint",
    "CheckpointInterruption",
    "CheckpointStore",
    "CheckpointSummary",
    "FrontierEntry",
    "InMemoryCheckpointStore",
    "InvalidStoreOptionError",
    "InvalidThreadIdError",
    "SQLiteCheckpointStore",
    "StoreBusyError",
    "StoreClosedError",
    "StoreDamagedError",
    "StoreError",
    "decode_checkpoint",
    "encode_checkpoint",
    "validate_thread_id",
]

public(__name__, __all__, globals())
