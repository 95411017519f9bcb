"""PostgresMemoryStore beyond the shared suite: exact BM25 against the in-memory store
on a real corpus and on random edit histories, several stores on one database, its
layout check and its typed errors. Skips without a server; fails under ``CI=true``."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from postgres_support import Schema, postgres_schema, postgres_url, require_url

from hive_core import StoreUnavailableError
from hive_core.memory import InMemoryMemoryStore, MemoryItem, MemorySchemaError
from hive_core.memory import PostgresMemoryStore as _Store

__all__ = ["postgres_schema", "postgres_url"]

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "river",
    "stone",
    "light",
    "dark",
    "quick",
    "brown",
    "fox",
    "dog",
    "lazy",
    "cat",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "memory",
    "graph",
    "node",
    "step",
    "agent",
    "tool",
    "plan",
    "write",
    "read",
]


def corpus(n: int, seed: int = 3) -> list[MemoryItem]:
    rng = random.Random(seed)
    spaces = [("docs",), ("docs", "a"), ("docs", "b"), ("other",)]
    return [
        MemoryItem(
            namespace=spaces[i % len(spaces)],
            key=f"k{i:05d}",
            text=" ".join(rng.choices(WORDS, k=rng.randint(0, 30))),
        )
        for i in range(n)
    ]


def test_top10_and_scores_equal_the_in_memory_store_on_100_queries(
    postgres_schema: Schema,
) -> None:
    items = corpus(2000)
    rng = random.Random(11)
    queries = [" ".join(rng.choices(WORDS, k=rng.randint(1, 4))) for _ in range(100)]

    async def main() -> None:
        memory = InMemoryMemoryStore()
        await memory.remember_many(items)
        async with _Store(postgres_schema.url) as pg:
            await pg.remember_many(items[:1000])
            for item in items[1000:]:  # one by one as well
                await pg.remember(item.namespace, item.key, item.text)
            for i, query in enumerate(queries):
                space, subtree = (("docs",), i % 2 == 0)
                want = await memory.recall(
                    space, query, 10, include_descendants=subtree
                )
                got = await pg.recall(space, query, 10, include_descendants=subtree)
                assert [h.item for h in got] == [h.item for h in want]
                for a, b in zip(got, want, strict=True):
                    assert abs(a.score - b.score) <= 1e-9
                assert got == want  # in fact bit-identical

    asyncio.run(main())


words = st.sampled_from(["red", "green", "blue", "the", "a", "Red!", "x-ray"])
texts = st.lists(words, max_size=6).map(" ".join)
ops = st.lists(
    st.tuples(
        st.sampled_from(["put", "del"]),
        st.sampled_from([("a",), ("a", "b"), ("c",)]),
        st.sampled_from(["k1", "k2", "k3"]),
        texts,
        st.booleans(),  # which of two Postgres stores makes the change
    ),
    max_size=15,
)


@settings(max_examples=20, deadline=None)
@given(ops, texts, st.booleans())
def test_two_postgres_stores_match_the_in_memory_store(
    operations: list[tuple[str, tuple[str, ...], str, str, bool]],
    query: str,
    subtree: bool,
) -> None:
    """Edits go through either of two stores on one database; both recall exactly
    what the in-memory store does (each catches up on the other's writes)."""
    schema = Schema(require_url())

    async def main() -> None:
        memory = InMemoryMemoryStore()
        first, second = _Store(schema.url), _Store(schema.url)
        for op, ns, key, text, other in operations:
            pg = second if other else first
            if op == "put":
                await memory.remember(ns, key, text)
                await pg.remember(ns, key, text)
            else:
                assert await memory.delete(ns, key) == await pg.delete(ns, key)
            for space in [("a",), ("c",)]:
                want = await memory.recall(space, query, 5, include_descendants=subtree)
                for store in (first, second):
                    got = await store.recall(
                        space, query, 5, include_descendants=subtree
                    )
                    assert got == want
        await first.aclose()
        await second.aclose()

    try:
        asyncio.run(main())
    finally:
        schema.drop()


def test_concurrent_writers_leave_every_store_consistent(
    postgres_schema: Schema,
) -> None:
    async def main() -> None:
        stores = [_Store(postgres_schema.url) for _ in range(3)]
        await stores[0].recall(("n",), "x")  # warm an (empty) index first
        memory = InMemoryMemoryStore()

        async def writer(i: int, store: _Store) -> None:
            for j in range(20):
                await store.remember(("n",), f"s{i}-{j % 7}", f"word{j} shared {i}")

        await asyncio.gather(*(writer(i, s) for i, s in enumerate(stores)))
        for i in range(3):
            for j in range(13, 20):
                await memory.remember(("n",), f"s{i}-{j % 7}", f"word{j} shared {i}")
        want = await memory.recall(("n",), "shared word15 word19", 50)
        for store in stores:
            assert await store.recall(("n",), "shared word15 word19", 50) == want
            await store.aclose()

    asyncio.run(main())


def test_a_write_between_the_fast_recalls_two_round_trips_is_caught(
    postgres_schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm recall reads changes and hits in two snapshots; another store's write
    committed between them (here: while the index is searched) sends it to the
    one-snapshot path, which returns what the in-memory store does after the
    write. Without a write in between, one search answers."""
    from hive_core.memory import _index
    from hive_core.memory import _postgres as module

    url = postgres_schema.url
    real = _index.search  # what module imported under the same name
    searches: list[int] = []

    async def edit(memory: InMemoryMemoryStore | _Store) -> None:
        await memory.delete(("n",), "b")
        await memory.remember(("n",), "c", "river river delta")

    def edit_elsewhere() -> None:
        async def run() -> None:
            async with _Store(url) as other:
                await edit(other)

        asyncio.run(run())

    def search(*args: object) -> object:
        if not searches:
            thread = threading.Thread(target=edit_elsewhere)
            thread.start()
            thread.join()  # committed before this recall reads its hits
        searches.append(1)
        return real(*args)  # type: ignore[arg-type]

    async def main() -> None:
        memory = InMemoryMemoryStore()
        async with _Store(url) as store:
            for key, text in (("a", "river stone"), ("b", "river"), ("c", "dark")):
                await store.remember(("n",), key, text)
                await memory.remember(("n",), key, text)
            await store.recall(("n",), "river")  # warm: the next recall is fast
            monkeypatch.setattr(module, "search", search)
            got = await store.recall(("n",), "river")
            await edit(memory)
            assert got == await memory.recall(("n",), "river")
            assert len(searches) == 2  # the fast path's, then the snapshot path's
            await store.recall(("n",), "river")
            assert len(searches) == 3

    asyncio.run(main())


def test_other_tokenizer_version_is_refused(postgres_schema: Schema) -> None:
    asyncio.run(_Store(postgres_schema.url).setup())
    postgres_schema.sql(
        "UPDATE hive_memory_meta SET value = 'v0' WHERE name = 'tokenizer'"
    )
    with pytest.raises(MemorySchemaError) as err:
        asyncio.run(_Store(postgres_schema.url).get(("a",), "k"))
    assert (err.value.setting, err.value.found) == ("tokenizer", "v0")


def test_unreachable_server_is_a_typed_retryable_error() -> None:
    store = _Store("postgresql://hive:s3cret@127.0.0.1:9/mem", timeout=1.0)
    with pytest.raises(StoreUnavailableError) as err:
        asyncio.run(store.recall(("a",), "anything"))
    assert err.value.retryable
    assert err.value.target == "127.0.0.1:9/mem"
    assert "s3cret" not in str(err.value)
