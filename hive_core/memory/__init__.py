"""Memory for agents: namespaced texts recalled by exact BM25.

Nodes program against :class:`MemoryStore`; pick :class:`InMemoryMemoryStore` for
tests and short-lived runs, :class:`SQLiteMemoryStore` to keep memories in a file.
Both give the same hits with the same scores. :class:`HybridMemoryStore` adds an
embedding model on top, fused with BM25 by reciprocal rank fusion.
"""

from __future__ import annotations

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
