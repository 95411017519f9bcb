"""What a memory store is: the protocol nodes program against and the data it returns.

Nodes only ever see :class:`MemoryStore`; the in-memory and SQLite implementations (and
any user store) are interchangeable because they return the same frozen structs with
the same scores for the same data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeAlias, runtime_checkable

import msgspec

__all__ = ["MemoryItem", "MemoryStore", "Namespace", "RecallHit"]

Namespace: TypeAlias = tuple[str, ...]
"""A namespace path such as ``("user", "42", "notes")``; never joined with ``/``."""


class MemoryItem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One remembered text, addressed by ``(namespace, key)``.

    Stores hand out fresh instances, so mutating ``metadata`` on a returned item never
    changes what the store holds.
    """

    namespace: Namespace
    """The namespace the item lives in, exactly as it was given to ``remember``."""
    key: str
    """Unique within the namespace; ``remember`` with an existing key replaces it."""
    text: str
    """What recall searches: the BM25 terms come from this text only."""
    metadata: dict[str, str] = {}
    """Free-form string pairs, kept in key order; not searched."""


class RecallHit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An item found by ``recall`` and its BM25 score (always > 0)."""

    item: MemoryItem
    """The matching item."""
    score: float
    """Okapi BM25 with k1 = 1.2 and b = 0.75; higher is better."""


@runtime_checkable
class MemoryStore(Protocol):
    """Namespaced, keyed texts with BM25 recall.

    Isolation is exact: ``recall(("a",), ...)`` searches only items remembered under
    ``("a",)``, never those of ``("a", "b")``, unless ``include_descendants=True``
    asks for the whole subtree (see ``docs/memory.md`` for how that is scored).
    """

    async def remember(
        self,
        namespace: Namespace,
        key: str,
        text: str,
        metadata: Mapping[str, str] | None = None,
    ) -> MemoryItem:
        """Insert or replace the item at ``(namespace, key)`` and return it."""
        ...

    async def get(self, namespace: Namespace, key: str) -> MemoryItem | None:
        """The item at ``(namespace, key)``, or ``None``."""
        ...

    async def recall(
        self,
        namespace: Namespace,
        query: str,
        limit: int = 10,
        *,
        include_descendants: bool = False,
    ) -> list[RecallHit]:
        """The best ``limit`` items for ``query``: score descending, then id ascending.

        The id is ``(namespace, key)`` compared element-wise by code point. Empty when
        ``limit <= 0``, when nothing is stored there, or when the query has no terms.
        """
        ...

    async def delete(self, namespace: Namespace, key: str) -> bool:
        """Remove the item; ``True`` if it existed."""
        ...
