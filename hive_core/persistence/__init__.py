"""Checkpoints and where they live: the format, the store protocol, the stores.

A ``Checkpoint`` holds codec bytes and plain strings, encoded with msgspec and never
unpickled. ``InMemoryCheckpointStore`` is for tests; ``SQLiteCheckpointStore`` is the
embedded default (WAL, one transaction per save, delta chains).
``PostgresCheckpointStore`` (the ``postgres`` extra) serves many processes and
machines; it is imported on first access, so ``import hive_core.persistence`` never
loads psycopg, and it is left out of ``__all__`` for the same reason. Every store
failure is a typed ``HiveError``: ``CheckpointConflict`` (a fenced save found the
thread moved on), ``StoreBusyError`` (retryable),
``StoreDamagedError``, ``StoreFailedError``, ``StoreClosedError``, ``InvalidThreadIdError`` and the
checkpoint decode/corruption errors. See ``docs/concepts/checkpoints.md``,
``docs/concepts/checkpoint-storage.md`` and ``docs/persistence.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exports import public
from ._connection import BusyPolicy
from ._errors import (
    CheckpointConflict,
    InvalidStoreOptionError,
    InvalidThreadIdError,
    StoreBusyError,
    StoreClosedError,
    StoreDamagedError,
    StoreError,
    StoreFailedError,
    StoreUnavailableError,
)
from ._fence import UNFENCED, Unfenced
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
from ._sqlite import STORE_SCHEMA_VERSION, SQLiteCheckpointStore
from ._threads import MAX_THREAD_ID_BYTES, validate_thread_id

__all__ = [
    "CHECKPOINT_FORMAT_VERSION",
    "MAX_THREAD_ID_BYTES",
    "STORE_SCHEMA_VERSION",
    "UNFENCED",
    "BusyPolicy",
    "Checkpoint",
    "CheckpointConflict",
    "CheckpointInterruption",
    "CheckpointStore",
    "CheckpointSummary",
    "FrontierEntry",
    "InMemoryCheckpointStore",
    "MigrationError",
    "MigrationReason",
    "InvalidStoreOptionError",
    "InvalidThreadIdError",
    "SQLiteCheckpointStore",
    "StoreBusyError",
    "StoreClosedError",
    "StoreDamagedError",
    "StoreFailedError",
    "StoreError",
    "StoreUnavailableError",
    "Unfenced",
    "decode_checkpoint",
    "encode_checkpoint",
    "migrate_checkpoint",
    "migrate_checkpoint_sync",
    "validate_thread_id",
]

public(__name__, __all__, globals())

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ loads them on use
    from ._postgres import POSTGRES_SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
    from ._postgres import PostgresCheckpointStore as PostgresCheckpointStore

_LAZY = {
    "PostgresCheckpointStore": "._postgres",
    "POSTGRES_SCHEMA_VERSION": "._postgres",
}


def __getattr__(name: str) -> object:
    # Module-level __getattr__ runs only for names not bound above: the Postgres
    # store and its psycopg import load on first use.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    public(__name__, [name], {name: value})
    globals()[name] = value
    return value
