"""Hybrid recall: reciprocal rank fusion of BM25 and a (here: toy) embedding model."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hive_core.memory import (
    EmbeddingError,
    HybridMemoryStore,
    InMemoryMemoryStore,
    InvalidMemoryArgumentError,
    MemoryItem,
    MemoryStore,
    SQLiteMemoryStore,
    tokenize,
)

T = TypeVar("T")

# A toy model: each word votes for a concept axis; synonyms share an axis.
CONCEPTS = {
    "car": 0,
    "automobile": 0,
    "vehicle": 0,
    "cat": 1,
    "kitten": 1,
    "feline": 1,
    "rain": 2,
    "weather": 2,
    "storm": 2,
}


def toy_embed(texts: Sequence[str]) -> list[list[float]]:
    out = []
    for text in texts:
        vector = [0.0, 0.0, 0.0, 0.01]  # a small shared axis keeps vectors non-zero
        for word in tokenize(text):
            if word in CONCEPTS:
                vector[CONCEPTS[word]] += 1.0
        out.append(vector)
    return out


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


DOCS = {
    "d1": "my car broke down on the highway",
    "d2": "the kitten sleeps on the sofa",
    "d3": "a storm is coming tonight",
    "d4": "the highway was closed",
}


async def _fill(store: HybridMemoryStore) -> None:
    for key, text in DOCS.items():
        await store.remember(("n",), key, text)


def test_is_a_memory_store() -> None:
    """The hybrid wrapper can stand in wherever a MemoryStore is expected."""
    assert isinstance(HybridMemoryStore(InMemoryMemoryStore(), toy_embed), MemoryStore)


def test_vector_side_finds_synonyms_bm25_cannot() -> None:
    """'automobile' shares no term with d1 but the embedding finds it."""

    async def go() -> None:
        store = HybridMemoryStore(InMemoryMemoryStore(), toy_embed)
        await _fill(store)
        assert await store.store.recall(("n",), "automobile") == []
        (hit,) = await store.recall_hybrid(("n",), "automobile", 1)
        assert hit.item.key == "d1"
        assert hit.bm25_rank is None and hit.vector_rank == 1
        assert hit.score == 1 / 61

    run(go())


def test_rrf_scores_and_tie_breaking() -> None:
    """fused = 1/(k + bm25 rank) + 1/(k + vector rank); ties go to the smaller id."""

    async def go() -> None:
        store = HybridMemoryStore(InMemoryMemoryStore(), toy_embed, rrf_k=10)
        await _fill(store)
        hits = await store.recall_hybrid(("n",), "car highway", 10)
        by_key = {h.item.key: h for h in hits}
        d1, d4 = by_key["d1"], by_key["d4"]
        assert d1.bm25_rank == 1 and d1.vector_rank == 1
        assert d1.score == 1 / 11 + 1 / 11
        assert d4.bm25_rank == 2
        assert d4.score == 1 / 12 + (1 / (10 + d4.vector_rank) if d4.vector_rank else 0)
        assert hits[0].item.key == "d1"
        scores = [(-h.score, h.item.key) for h in hits]
        assert scores == sorted(scores)

    run(go())


def test_plain_recall_returns_fused_scores() -> None:
    """recall() is recall_hybrid() without the evidence fields."""

    async def go() -> None:
        store = HybridMemoryStore(InMemoryMemoryStore(), toy_embed)
        await _fill(store)
        detailed = await store.recall_hybrid(("n",), "kitten weather", 3)
        plain = await store.recall(("n",), "kitten weather", 3)
        assert [(h.item, h.score) for h in detailed] == [
            (h.item, h.score) for h in plain
        ]
        assert await store.recall(("n",), "kitten", 0) == []

    run(go())


def test_namespaces_stay_isolated_unless_descendants_are_asked_for() -> None:
    """The vector side honours exact namespaces and include_descendants too."""

    async def go() -> None:
        store = HybridMemoryStore(InMemoryMemoryStore(), toy_embed)
        await store.remember(("a",), "k", "a kitten")
        await store.remember(("a", "b"), "k", "a feline friend")
        await store.remember(("c",), "k", "a cat")
        hits = await store.recall(("a",), "cat")
        assert [h.item.namespace for h in hits] == [("a",)]
        hits = await store.recall(("a",), "cat", include_descendants=True)
        assert sorted(h.item.namespace for h in hits) == [("a",), ("a", "b")]

    run(go())


def test_delete_forgets_the_vector() -> None:
    """A deleted item no longer comes back through the vector side."""

    async def go() -> None:
        store = HybridMemoryStore(InMemoryMemoryStore(), toy_embed)
        await _fill(store)
        assert await store.delete(("n",), "d2") is True
        hits = await store.recall(("n",), "feline")
        assert all(h.item.key != "d2" for h in hits)
        assert await store.get(("n",), "d2") is None

    run(go())


def test_bulk_load_embeds_in_one_batch() -> None:
    """remember_many calls the model once for all texts."""
    calls: list[int] = []

    def counting(texts: Sequence[str]) -> list[list[float]]:
        calls.append(len(texts))
        return toy_embed(texts)

    async def go() -> None:
        store = HybridMemoryStore(InMemoryMemoryStore(), counting)
        items = [MemoryItem(namespace=("n",), key=k, text=t) for k, t in DOCS.items()]
        assert await store.remember_many(items) == 4
        assert calls == [4]
        (hit,) = await store.recall(("n",), "vehicle", 1)
        assert hit.item.key == "d1"

    run(go())


def test_reopened_persistent_store_embeds_bm25_hits_lazily(tmp_path: Path) -> None:
    """Items from an earlier process are embedded when BM25 first finds them."""
    path = tmp_path / "memory.db"

    async def go() -> None:
        with SQLiteMemoryStore(path) as sqlite:
            await HybridMemoryStore(sqlite, toy_embed).remember(
                ("n",), "d1", DOCS["d1"]
            )
        with SQLiteMemoryStore(path) as sqlite:
            store = HybridMemoryStore(sqlite, toy_embed)
            assert await store.recall(("n",), "automobile") == []  # no vector yet
            assert [h.item.key for h in await store.recall(("n",), "car")] == ["d1"]
            assert [h.item.key for h in await store.recall(("n",), "automobile")] == [
                "d1"
            ]

    run(go())


@pytest.mark.parametrize(
    ("embed", "reason"),
    [
        (lambda texts: [], "expected 1 vectors, got 0"),
        (lambda texts: [[0.0, 0.0] for _ in texts], "zero or not finite"),
        (lambda texts: [[float("nan"), 1.0] for _ in texts], "zero or not finite"),
        (
            lambda texts: [[1.0] * (len(texts[0]) + 1) for _ in texts],
            "lengths differ",
        ),
    ],
)
def test_bad_vectors_raise_embedding_error(embed: Any, reason: str) -> None:
    """Wrong counts, zero or NaN vectors and changing dimensions are refused."""

    inner = InMemoryMemoryStore()

    async def go() -> None:
        store = HybridMemoryStore(inner, embed)
        await store.remember(("n",), "k1", "a")
        await store.remember(("n",), "k2", "abcd")

    with pytest.raises(EmbeddingError) as info:
        run(go())
    assert reason in str(info.value)
    assert info.value.code == "memory-embedding-invalid"
    assert run(inner.get(("n",), "k2")) is None  # nothing stored without its vector


def test_options_are_validated() -> None:
    """rrf_k and pool must be positive ints."""
    with pytest.raises(InvalidMemoryArgumentError):
        HybridMemoryStore(InMemoryMemoryStore(), toy_embed, rrf_k=0)
    with pytest.raises(InvalidMemoryArgumentError):
        HybridMemoryStore(InMemoryMemoryStore(), toy_embed, pool=True)
