"""The in-memory memory store: one BM25 index per namespace, nothing persisted."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from typing import final

from ._index import InvertedIndex, gc_paused, search
from ._protocol import MemoryItem, Namespace, RecallHit
from ._tokenize import tokenize
from ._validate import (
    check_key,
    check_limit,
    check_namespace,
    check_query,
    checked_item,
    new_item,
)

__all__ = ["InMemoryMemoryStore", "subtree"]


class _Space:
    """One namespace: its items and their index."""

    __slots__ = ("index", "items")

    def __init__(self) -> None:
        self.index = InvertedIndex()
        self.items: dict[str, tuple[str, dict[str, str]]] = {}


def subtree(ordered: list[Namespace], prefix: Namespace) -> list[Namespace]:
    """The namespaces of sorted ``ordered`` that equal or extend ``prefix``.

    Tuples sort so that a prefix's whole subtree is one contiguous run starting at
    the prefix itself, so this is a bisect plus a short scan.
    """
    out: list[Namespace] = []
    width = len(prefix)
    for i in range(bisect_left(ordered, prefix), len(ordered)):
        namespace = ordered[i]
        if namespace[:width] != prefix:
            break
        out.append(namespace)
    return out


@final
class InMemoryMemoryStore:
    """A :class:`~hive_core.memory.MemoryStore` that lives and dies with the process.

    Each namespace has its own inverted index (dropped when its last item goes), so a
    recall touches only the namespace asked for. Calls never await anything: they
    finish before returning control, which keeps runs deterministic and makes each
    call atomic within one event loop (the store is not meant to be shared by threads).
    """

    def __init__(self) -> None:
        self._spaces: dict[Namespace, _Space] = {}
        self._ordered: list[Namespace] = []

    def _put(self, item: MemoryItem) -> InvertedIndex:
        space = self._spaces.get(item.namespace)
        if space is None:
            space = self._spaces[item.namespace] = _Space()
            insort(self._ordered, item.namespace)
        space.index.upsert(item.key, tokenize(item.text))
        space.items[item.key] = (item.text, item.metadata)
        return space.index

    async def remember(
        self,
        namespace: Namespace,
        key: str,
        text: str,
        metadata: Mapping[str, str] | None = None,
    ) -> MemoryItem:
        """Insert or replace the item at ``(namespace, key)`` and return it."""
        item = new_item(namespace, key, text, metadata)
        self._put(item)
        return _copy(item)

    async def remember_many(self, items: Iterable[MemoryItem]) -> int:
        """Remember every item in order (later duplicates win); returns the count.

        Faster than a loop of ``remember`` for bulk loads: impact lists are sorted
        once at the end instead of on the next recall, and the cyclic garbage
        collector is paused meanwhile (see :func:`gc_paused`).
        """
        checked = [checked_item(item) for item in items]
        touched: dict[int, InvertedIndex] = {}
        with gc_paused():
            for item in checked:
                index = self._put(item)
                touched[id(index)] = index
            for index in touched.values():
                index.flush()
        return len(checked)

    async def get(self, namespace: Namespace, key: str) -> MemoryItem | None:
        """The item at ``(namespace, key)``, or ``None``."""
        space = self._spaces.get(check_namespace(namespace))
        check_key(key)
        if space is None:
            return None
        found = space.items.get(key)
        if found is None:
            return None
        text, metadata = found
        return MemoryItem(
            namespace=namespace, key=key, text=text, metadata=dict(metadata)
        )

    async def recall(
        self,
        namespace: Namespace,
        query: str,
        limit: int = 10,
        *,
        include_descendants: bool = False,
    ) -> list[RecallHit]:
        """The best ``limit`` items for ``query`` (see :class:`MemoryStore`)."""
        check_namespace(namespace)
        tokens = tokenize(check_query(query))
        if check_limit(limit) <= 0 or not tokens:
            return []
        if include_descendants:
            names = subtree(self._ordered, namespace)
        else:
            names = [namespace] if namespace in self._spaces else []
        parts = [(name, self._spaces[name].index) for name in names]
        hits: list[RecallHit] = []
        for score, name, key in search(parts, tokens, limit):
            text, metadata = self._spaces[name].items[key]
            item = MemoryItem(
                namespace=name, key=key, text=text, metadata=dict(metadata)
            )
            hits.append(RecallHit(item=item, score=score))
        return hits

    async def delete(self, namespace: Namespace, key: str) -> bool:
        """Remove the item; ``True`` if it existed. An emptied namespace is dropped."""
        space = self._spaces.get(check_namespace(namespace))
        check_key(key)
        if space is None or space.items.pop(key, None) is None:
            return False
        space.index.remove(key)
        if not space.items:
            del self._spaces[namespace]
            del self._ordered[bisect_left(self._ordered, namespace)]
        return True


def _copy(item: MemoryItem) -> MemoryItem:
    return MemoryItem(
        namespace=item.namespace,
        key=item.key,
        text=item.text,
        metadata=dict(item.metadata),
    )
