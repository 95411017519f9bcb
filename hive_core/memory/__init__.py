"""Memory for agents: namespaced texts recalled by exact BM25.

Nodes program against :class:`MemoryStore`; pick :class:`InMemoryMemoryStore` for
tests and short-lived runs, :class:`SQLiteMemoryStore` to keep memories in a file.
Both give the same hits with the same scores. :class:`HybridMemoryStore` adds an
embedding model on top, fused with BM25 by reciprocal rank fusion.

``PostgresMemoryStore`` (the ``postgres`` extra) shares memories across processes and
machines with the same scores; it loads psycopg on first access, so it is reached as
``hive_core.memory.PostgresMemoryStore`` but kept out of ``__all__`` (and out of
``import *``). See ``docs/persistence.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exports import public
from ._errors import (
    EmbeddingError,
    InvalidMemoryArgumentError,
    InvalidNamespaceError,
    MemorySchemaError,
    MemoryStoreClosedError,
    MemoryStoreError,
)
from ._hybrid import Embedder, HybridHit, HybridMemoryStore
from ._inmemory import InMemoryMemoryStore
from ._protocol import MemoryItem, MemoryStore, Namespace, RecallHit
from ._sqlite import SQLiteMemoryStore
from ._tokenize import tokenize

__all__ = [
    # protocol and data
    "MemoryItem",
    "MemoryStore",
    "Namespace",
    "RecallHit",
    # stores
    "InMemoryMemoryStore",
    "SQLiteMemoryStore",
    # hybrid recall (BM25 + embeddings, fused by reciprocal rank)
    "Embedder",
    "HybridHit",
    "HybridMemoryStore",
    # the tokenizer every store uses
    "tokenize",
    # errors
    "EmbeddingError",
    "InvalidMemoryArgumentError",
    "InvalidNamespaceError",
    "MemorySchemaError",
    "MemoryStoreClosedError",
    "MemoryStoreError",
]

public(__name__, __all__, globals())

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ loads them on use
    from ._postgres import (
        POSTGRES_MEMORY_SCHEMA_VERSION as POSTGRES_MEMORY_SCHEMA_VERSION,
    )
    from ._postgres import PostgresMemoryStore as PostgresMemoryStore


def __getattr__(name: str) -> object:
    # Runs only for names not bound above: psycopg loads on first use.
    if name not in ("PostgresMemoryStore", "POSTGRES_MEMORY_SCHEMA_VERSION"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import _postgres

    value = getattr(_postgres, name)
    public(__name__, [name], {name: value})
    globals()[name] = value
    return value
