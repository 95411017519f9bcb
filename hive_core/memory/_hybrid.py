"""Hybrid recall: BM25 from any memory store fused with a user's embedding model.

Fusion is reciprocal rank fusion (RRF), chosen because it needs no score calibration
between BM25 (unbounded) and cosine similarity ([-1, 1]) and is fully deterministic:

    fused(d) = 1 / (k + rank_bm25(d)) + 1 / (k + rank_vector(d))

with ranks starting at 1, a missing term when ``d`` is not in that ranking's top
``pool``, ``k = 60`` by default, the BM25 term added first, and ties broken by the
document id ``namespace + (key,)`` ascending. The vector ranking is exact: cosine
similarity of unit vectors against every embedded item in scope, best first, ties by
id, keeping only similarities above ``min_similarity``.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeAlias, final

import msgspec

from ._errors import EmbeddingError, InvalidMemoryArgumentError
from ._inmemory import subtree
from ._protocol import MemoryItem, MemoryStore, Namespace, RecallHit
from ._validate import (
    check_key,
    check_limit,
    check_namespace,
    check_query,
    check_text,
    checked_item,
)

__all__ = ["Embedder", "HybridHit", "HybridMemoryStore"]

Embedder: TypeAlias = Callable[[Sequence[str]], Sequence[Sequence[float]]]
"""Maps a batch of texts to one vector each (same length for all, any scale)."""

_Vector: TypeAlias = tuple[float, ...]


class HybridHit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A fused hit with the evidence from both rankings."""

    item: MemoryItem
    """The matching item."""
    score: float
    """The RRF score the hits are sorted by."""
    bm25_rank: int | None
    """1-based rank in the BM25 ranking, ``None`` when outside its top ``pool``."""
    bm25_score: float | None
    """The BM25 score when ranked there."""
    vector_rank: int | None
    """1-based rank in the vector ranking, ``None`` when outside its top ``pool``."""
    similarity: float | None
    """Cosine similarity to the query when ranked there."""


class _Fused:
    """Accumulates one document's RRF score and evidence."""

    __slots__ = ("bm25_rank", "bm25_score", "score", "similarity", "vector_rank")

    def __init__(self) -> None:
        self.score = 0.0
        self.bm25_rank: int | None = None
        self.bm25_score: float | None = None
        self.vector_rank: int | None = None
        self.similarity: float | None = None


@final
class HybridMemoryStore:
    """A :class:`MemoryStore` whose recall fuses BM25 with embedding similarity.

    Texts are stored in (and BM25 comes from) the wrapped ``store``; vectors live in
    this object, one per item remembered through it, and are never persisted. A BM25
    hit without a vector (say, remembered before a restart) is embedded when first
    found, so reopened persistent stores keep working; items nobody has embedded yet
    can only be found through BM25.
    """

    def __init__(
        self,
        store: MemoryStore,
        embed: Embedder,
        *,
        rrf_k: int = 60,
        pool: int = 50,
        min_similarity: float = 0.0,
    ) -> None:
        options: tuple[tuple[str, object], ...] = (("rrf_k", rrf_k), ("pool", pool))
        for name, value in options:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidMemoryArgumentError(
                    name, expected="an int >= 1", got=value
                )
        self._store = store
        self._embed = embed
        self._rrf_k = rrf_k
        self._pool = pool
        self._min_similarity = float(min_similarity)
        self._vectors: dict[Namespace, dict[str, _Vector]] = {}
        self._ordered: list[Namespace] = []
        self._width = -1  # every vector must have the first one's length

    @property
    def store(self) -> MemoryStore:
        """The wrapped store that holds the texts and answers BM25."""
        return self._store

    def _vectorize(self, texts: Sequence[str]) -> list[_Vector]:
        raw = self._embed(list(texts))
        if len(raw) != len(texts):
            reason = f"expected {len(texts)} vectors, got {len(raw)}"
            raise EmbeddingError(reason, texts=len(texts))
        out: list[_Vector] = []
        for vector in raw:
            values = [float(x) for x in vector]
            if self._width < 0 and values:
                self._width = len(values)
            if len(values) != self._width:
                reason = f"vector lengths differ ({self._width} and {len(values)})"
                raise EmbeddingError(reason, texts=len(texts))
            norm = math.sqrt(math.fsum(x * x for x in values))
            if not math.isfinite(norm) or norm == 0.0:
                reason = "a vector is zero or not finite"
                raise EmbeddingError(reason, texts=len(texts))
            out.append(tuple(x / norm for x in values))
        return out

    def _keep(self, namespace: Namespace, key: str, vector: _Vector) -> None:
        space = self._vectors.get(namespace)
        if space is None:
            space = self._vectors[namespace] = {}
            insort(self._ordered, namespace)
        space[key] = vector

    def _drop(self, namespace: Namespace, key: str) -> None:
        space = self._vectors.get(namespace)
        if space is not None and space.pop(key, None) is not None and not space:
            del self._vectors[namespace]
            del self._ordered[bisect_left(self._ordered, namespace)]

    async def remember(
        self,
        namespace: Namespace,
        key: str,
        text: str,
        metadata: Mapping[str, str] | None = None,
    ) -> MemoryItem:
        """Embed the text, then store the item in the wrapped store and keep the vector.

        Embedding first means a failing model leaves nothing half-remembered.
        """
        check_namespace(namespace)
        check_key(key)
        (vector,) = self._vectorize([check_text(text)])
        item = await self._store.remember(namespace, key, text, metadata)
        self._keep(item.namespace, item.key, vector)
        return item

    async def remember_many(self, items: Iterable[MemoryItem]) -> int:
        """Embed all texts in one batch, then remember them one by one."""
        checked = [checked_item(item) for item in items]
        vectors = self._vectorize([item.text for item in checked]) if checked else []
        for item, vector in zip(checked, vectors, strict=True):
            await self._store.remember(
                item.namespace, item.key, item.text, item.metadata
            )
            self._keep(item.namespace, item.key, vector)
        return len(checked)

    async def get(self, namespace: Namespace, key: str) -> MemoryItem | None:
        """The item from the wrapped store."""
        return await self._store.get(namespace, key)

    async def delete(self, namespace: Namespace, key: str) -> bool:
        """Delete from the wrapped store and forget the vector."""
        existed = await self._store.delete(namespace, key)
        self._drop(namespace, key)
        return existed

    async def recall(
        self,
        namespace: Namespace,
        query: str,
        limit: int = 10,
        *,
        include_descendants: bool = False,
    ) -> list[RecallHit]:
        """Fused hits as :class:`RecallHit` (``score`` is the RRF score)."""
        hits = await self.recall_hybrid(
            namespace, query, limit, include_descendants=include_descendants
        )
        return [RecallHit(item=hit.item, score=hit.score) for hit in hits]

    async def recall_hybrid(
        self,
        namespace: Namespace,
        query: str,
        limit: int = 10,
        *,
        include_descendants: bool = False,
    ) -> list[HybridHit]:
        """The best ``limit`` items by RRF of BM25 and vector ranks, with evidence.

        Unlike plain recall, a query without BM25 terms can still match by meaning.
        """
        check_namespace(namespace)
        check_query(query)
        if check_limit(limit) <= 0:
            return []
        lexical = await self._store.recall(
            namespace, query, self._pool, include_descendants=include_descendants
        )
        items: dict[tuple[str, ...], MemoryItem] = {}
        for hit in lexical:
            doc = (*hit.item.namespace, hit.item.key)
            items[doc] = hit.item
            space = self._vectors.get(hit.item.namespace)
            if space is None or hit.item.key not in space:
                (vector,) = self._vectorize([hit.item.text])
                self._keep(hit.item.namespace, hit.item.key, vector)
        semantic = self._nearest(namespace, query, include_descendants)

        k = self._rrf_k
        fused: dict[tuple[str, ...], _Fused] = {}
        for rank, hit in enumerate(lexical, start=1):
            entry = fused[(*hit.item.namespace, hit.item.key)] = _Fused()
            entry.score = 1.0 / (k + rank)
            entry.bm25_rank = rank
            entry.bm25_score = hit.score
        for rank, (similarity, name, key) in enumerate(semantic, start=1):
            doc = (*name, key)
            if doc not in items:
                found = await self._store.get(name, key)
                if found is None:  # deleted behind our back: forget the vector
                    self._drop(name, key)
                    continue
                items[doc] = found
            entry = fused.setdefault(doc, _Fused())
            entry.score += 1.0 / (k + rank)
            entry.vector_rank = rank
            entry.similarity = similarity
        ranked = sorted(fused.items(), key=lambda pair: (-pair[1].score, pair[0]))
        return [
            HybridHit(
                item=items[doc],
                score=entry.score,
                bm25_rank=entry.bm25_rank,
                bm25_score=entry.bm25_score,
                vector_rank=entry.vector_rank,
                similarity=entry.similarity,
            )
            for doc, entry in ranked[:limit]
        ]

    def _nearest(
        self, namespace: Namespace, query: str, include_descendants: bool
    ) -> list[tuple[float, Namespace, str]]:
        if include_descendants:
            names = subtree(self._ordered, namespace)
        else:
            names = [namespace] if namespace in self._vectors else []
        if not names:
            return []
        (probe,) = self._vectorize([query])
        scored: list[tuple[float, Namespace, str]] = []
        for name in names:
            for key, vector in self._vectors[name].items():
                similarity = sum(map(operator.mul, probe, vector))
                if similarity > self._min_similarity:
                    scored.append((similarity, name, key))
        scored.sort(key=lambda s: (-s[0], (*s[1], s[2])))
        return scored[: self._pool]
