"""Conformance suite: every MemoryStore behaves the same, scores included.

Each test runs against the in-memory store, the SQLite store and the PostgreSQL store
(fixture params; Postgres gets a schema per store, skips without a server and fails
under ``CI=true``, see ``tests/postgres_support.py``).
"""

from __future__ import annotations

import asyncio
import math
import pickle
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hive_core.errors import HiveError
from hive_core.memory import (
    InMemoryMemoryStore,
    InvalidMemoryArgumentError,
    InvalidNamespaceError,
    MemoryItem,
    MemoryStore,
    RecallHit,
    SQLiteMemoryStore,
)

T = TypeVar("T")
Store = InMemoryMemoryStore | SQLiteMemoryStore


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Store]]:
    """A factory of empty stores of the parametrised kind (closed at teardown)."""
    opened: list[Any] = []
    schemas: list[Any] = []

    def factory() -> Store:
        if request.param == "memory":
            return InMemoryMemoryStore()
        if request.param == "postgres":
            from postgres_support import Schema, require_url

            from hive_core.memory import PostgresMemoryStore

            schemas.append(Schema(require_url()))
            opened.append(PostgresMemoryStore(schemas[-1].url))
            return opened[-1]  # type: ignore[no-any-return]
        store = SQLiteMemoryStore(tmp_path / f"memory{len(opened)}.db")
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()
    for schema in schemas:
        schema.drop()


@pytest.fixture
def store(make_store: Callable[[], Store]) -> Store:
    return make_store()


CORPUS = {
    "k1": "The quick brown fox jumps over the lazy dog",
    "k2": "A quick brown dog outpaces a quick fox",
    "k3": "Lazy afternoons are for sleeping",
    "k4": "Foxes and dogs: a field guide",
    "k5": "",
}


async def _fill(store: MemoryStore, namespace: tuple[str, ...] = ("docs",)) -> None:
    for key, text in CORPUS.items():
        await store.remember(namespace, key, text, {"len": str(len(text))})


class TestBasics:
    def test_satisfies_the_protocol(self, store: Store) -> None:
        """Both stores are structurally MemoryStore."""
        assert isinstance(store, MemoryStore)

    def test_remember_then_get_round_trips(self, store: Store) -> None:
        """get returns what remember stored, metadata sorted by key."""

        async def go() -> None:
            item = await store.remember(
                ("u", "1"), "pref", "likes tea", {"b": "2", "a": "1"}
            )
            assert item == MemoryItem(
                namespace=("u", "1"),
                key="pref",
                text="likes tea",
                metadata={"a": "1", "b": "2"},
            )
            assert list(item.metadata) == ["a", "b"]
            got = await store.get(("u", "1"), "pref")
            assert got == item
            assert await store.get(("u", "1"), "other") is None
            assert await store.get(("u",), "pref") is None

        run(go())

    def test_remember_replaces_text_and_index_entry(self, store: Store) -> None:
        """Upsert: the old text is no longer found, the new one is."""

        async def go() -> None:
            await store.remember(("n",), "k", "apples and pears")
            await store.remember(("n",), "k", "bananas")
            assert await store.recall(("n",), "apples") == []
            (hit,) = await store.recall(("n",), "bananas")
            assert hit.item.text == "bananas"
            assert (await store.get(("n",), "k")) == hit.item

        run(go())

    def test_delete_reports_existence_and_removes_from_recall(
        self, store: Store
    ) -> None:
        """delete returns True once, then False; recall no longer finds the item."""

        async def go() -> None:
            await _fill(store)
            assert await store.delete(("docs",), "k3") is True
            assert await store.delete(("docs",), "k3") is False
            assert await store.delete(("nowhere",), "k3") is False
            assert await store.get(("docs",), "k3") is None
            hits = await store.recall(("docs",), "lazy")
            assert [h.item.key for h in hits] == ["k1"]

        run(go())

    def test_deleting_the_last_item_empties_the_namespace(self, store: Store) -> None:
        """An emptied namespace recalls nothing and can be reused."""

        async def go() -> None:
            await store.remember(("n",), "k", "hello")
            await store.delete(("n",), "k")
            assert await store.recall(("n",), "hello") == []
            assert await store.recall((), "hello", include_descendants=True) == []
            await store.remember(("n",), "k2", "hello again")
            assert [h.item.key for h in await store.recall(("n",), "hello")] == ["k2"]

        run(go())

    def test_returned_items_are_copies(self, store: Store) -> None:
        """Mutating a returned item's metadata does not change the store."""

        async def go() -> None:
            meta = {"a": "1"}
            item = await store.remember(("n",), "k", "text", meta)
            meta["a"] = "changed"
            item.metadata["a"] = "changed too"
            (hit,) = await store.recall(("n",), "text")
            hit.item.metadata["x"] = "y"
            got = await store.get(("n",), "k")
            assert got is not None
            assert got.metadata == {"a": "1"}

        run(go())


class TestRecall:
    def test_ranks_by_bm25_with_spec_scores(self, store: Store) -> None:
        """Scores are docs/memory.md's BM25 (checked by hand for one hit)."""

        async def go() -> list[RecallHit]:
            await _fill(store)
            return await store.recall(("docs",), "quick fox")

        hits = run(go())
        assert [h.item.key for h in hits] == ["k2", "k1"]
        lengths = {"k1": 9, "k2": 8, "k3": 5, "k4": 6, "k5": 0}
        avgdl = sum(lengths.values()) / 5
        idf = math.log(1 + (5 - 2 + 0.5) / (2 + 0.5))
        norm = 1.2 * (0.25 + 0.75 * 8 / avgdl)
        expected = idf * 2 * 2.2 / (2 + norm) + idf * 1 * 2.2 / (1 + norm)
        assert math.isclose(hits[0].score, expected, rel_tol=1e-12)
        assert hits[0].item.metadata == {"len": str(len(CORPUS["k2"]))}

    def test_limit_and_empty_cases(self, store: Store) -> None:
        """limit truncates; limit <= 0, no terms or no items give nothing."""

        async def go() -> None:
            assert await store.recall(("docs",), "fox") == []
            await _fill(store)
            assert len(await store.recall(("docs",), "fox dog", 1)) == 1
            assert await store.recall(("docs",), "fox", 0) == []
            assert await store.recall(("docs",), "fox", -1) == []
            assert await store.recall(("docs",), "?!") == []
            assert await store.recall(("docs",), "") == []
            assert await store.recall(("docs",), "unicorn") == []

        run(go())

    def test_ties_are_broken_by_key(self, store: Store) -> None:
        """Identical texts tie exactly and come back in key order."""

        async def go() -> list[RecallHit]:
            for key in ["m", "b", "z", "a"]:
                await store.remember(("t",), key, "same words here")
            return await store.recall(("t",), "words", 3)

        hits = run(go())
        assert [h.item.key for h in hits] == ["a", "b", "m"]
        assert len({h.score for h in hits}) == 1


class TestNamespaces:
    def test_recall_is_isolated_to_the_exact_namespace(self, store: Store) -> None:
        """("a",) never sees items of ("a", "b") or ("b",) by default."""

        async def go() -> None:
            await store.remember(("a",), "k", "shared word")
            await store.remember(("a", "b"), "k", "shared word")
            await store.remember(("b",), "k", "shared word")
            hits = await store.recall(("a",), "shared")
            assert [h.item.namespace for h in hits] == [("a",)]
            hits = await store.recall(("a", "b"), "shared")
            assert [h.item.namespace for h in hits] == [("a", "b")]

        run(go())

    def test_slash_in_a_name_does_not_collide_with_nesting(self, store: Store) -> None:
        """("a/b",) and ("a", "b") are different namespaces."""

        async def go() -> None:
            await store.remember(("a/b",), "k", "one")
            await store.remember(("a", "b"), "k", "two")
            assert (await store.get(("a/b",), "k")) is not None
            got = await store.get(("a", "b"), "k")
            assert got is not None and got.text == "two"
            assert [h.item.text for h in await store.recall(("a/b",), "one two")] == [
                "one"
            ]
            hits = await store.recall(("a",), "one two", include_descendants=True)
            assert [h.item.text for h in hits] == ["two"]

        run(go())

    def test_include_descendants_scores_the_subtree_as_one_index(
        self, store: Store
    ) -> None:
        """Subtree recall equals recall over one namespace holding the same items."""

        async def go() -> tuple[list[RecallHit], list[RecallHit]]:
            layout = {
                ("p",): {"x": "alpha beta", "y": "gamma"},
                ("p", "q"): {"x": "alpha alpha delta"},
                ("p", "q", "r"): {"z": "beta gamma alpha"},
                ("pq",): {"w": "alpha"},  # not under ("p",)
                ("o",): {"v": "alpha"},
            }
            for ns, docs in layout.items():
                for key, text in docs.items():
                    await store.remember(ns, key, text)
            sub = await store.recall(("p",), "alpha gamma", include_descendants=True)
            flat = InMemoryMemoryStore()
            for ns, docs in layout.items():
                if ns[:1] == ("p",):
                    for key, text in docs.items():
                        await flat.remember(("all",), "/".join((*ns, key)), text)
            return sub, await flat.recall(("all",), "alpha gamma")

        sub, flat = run(go())
        assert len(sub) == 4  # ("pq",) and ("o",) are outside the subtree
        assert ["/".join((*h.item.namespace, h.item.key)) for h in sub] == [
            h.item.key for h in flat
        ]
        assert [h.score for h in sub] == [h.score for h in flat]

    def test_descendant_ties_sort_by_the_flat_document_id(self, store: Store) -> None:
        """The id is namespace + (key,), compared element by element."""

        async def go() -> list[RecallHit]:
            await store.remember(("a",), "z", "word")
            await store.remember(("a", "b"), "c", "word")
            await store.remember(("a", "b"), "a", "word")
            return await store.recall(("a",), "word", include_descendants=True)

        ids = [(*h.item.namespace, h.item.key) for h in run(go())]
        assert ids == [("a", "b", "a"), ("a", "b", "c"), ("a", "z")]

    def test_root_namespace_with_descendants_searches_everything(
        self, store: Store
    ) -> None:
        """() plus include_descendants covers every namespace."""

        async def go() -> list[RecallHit]:
            await store.remember(("x",), "1", "needle")
            await store.remember(("y", "z"), "2", "needle")
            await store.remember((), "3", "needle")
            return await store.recall((), "needle", include_descendants=True)

        assert [h.item.key for h in run(go())] == ["3", "1", "2"]


class TestValidation:
    @pytest.mark.parametrize(
        "namespace",
        ["users", ["users"], ("users", 1), ("users", ""), ("bad\ud800",), None],
    )
    def test_rejects_bad_namespaces(self, store: Store, namespace: object) -> None:
        """A str, a list, non-str or empty elements and surrogates are refused."""
        with pytest.raises(InvalidNamespaceError) as info:
            run(store.remember(namespace, "k", "t"))  # type: ignore[arg-type]
        assert info.value.code == "memory-invalid-namespace"
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, HiveError)
        with pytest.raises(InvalidNamespaceError):
            run(store.recall(namespace, "t"))  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("call", "argument"),
        [
            (lambda s: s.remember(("n",), "", "t"), "key"),
            (lambda s: s.remember(("n",), 3, "t"), "key"),
            (lambda s: s.remember(("n",), "k", None), "text"),
            (lambda s: s.remember(("n",), "k", "t", {"a": 1}), "metadata"),
            (lambda s: s.remember(("n",), "k", "t", ["a"]), "metadata"),
            (lambda s: s.recall(("n",), None), "query"),
            (lambda s: s.recall(("n",), "q", "10"), "limit"),
            (lambda s: s.recall(("n",), "q", True), "limit"),
            (lambda s: s.get(("n",), ""), "key"),
            (lambda s: s.delete(("n",), 5), "key"),
            (lambda s: s.remember_many(["not an item"]), "items"),
        ],
    )
    def test_rejects_bad_arguments(
        self,
        store: Store,
        call: Callable[[Store], Coroutine[Any, Any, object]],
        argument: str,
    ) -> None:
        """Wrong keys, texts, metadata, queries and limits raise a typed error."""
        with pytest.raises(InvalidMemoryArgumentError) as info:
            run(call(store))
        assert info.value.argument == argument
        assert info.value.code == "memory-invalid-argument"
        assert f"`{argument}`" in str(info.value)

    def test_errors_survive_pickling(self) -> None:
        """Errors keep their attributes and message through pickle."""
        error = InvalidMemoryArgumentError("key", expected="a str", got=3)
        clone = pickle.loads(pickle.dumps(error))
        assert type(clone) is InvalidMemoryArgumentError
        assert (clone.argument, clone.expected, clone.got) == ("key", "a str", "int 3")
        assert str(clone) == str(error)
        ns_error = InvalidNamespaceError("x", reason="why")
        assert str(pickle.loads(pickle.dumps(ns_error))) == str(ns_error)


class TestBulk:
    def test_remember_many_equals_one_by_one(
        self, make_store: Callable[[], Store]
    ) -> None:
        """A bulk load (duplicates: last wins) gives the same recall as single calls."""

        async def go() -> tuple[list[RecallHit], list[RecallHit], int]:
            items = [
                MemoryItem(namespace=("n",), key=k, text=t) for k, t in CORPUS.items()
            ] + [MemoryItem(namespace=("n",), key="k1", text="dog dog fox")]
            bulk, single = make_store(), make_store()
            count = await bulk.remember_many(items)
            for item in items:
                await single.remember(item.namespace, item.key, item.text)
            query = "quick dog fox"
            return (
                await bulk.recall(("n",), query),
                await single.recall(("n",), query),
                count,
            )

        bulk, single, count = run(go())
        assert count == 6
        assert bulk == single
        assert {h.item.key: h.item.text for h in bulk}["k1"] == "dog dog fox"


# ------------------------------------------------------------- cross-store property

words = st.sampled_from(["red", "green", "blue", "the", "a", "Red!", "x-ray"])
texts = st.lists(words, max_size=6).map(" ".join)
ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.sampled_from([("a",), ("a", "b"), ("c",)]),
            st.sampled_from(["k1", "k2", "k3"]),
            texts,
        ),
        st.tuples(
            st.just("del"),
            st.sampled_from([("a",), ("a", "b"), ("c",)]),
            st.sampled_from(["k1", "k2", "k3"]),
            st.just(""),
        ),
    ),
    max_size=15,
)


@settings(max_examples=25)
@given(ops, texts, st.booleans())
def test_both_stores_return_identical_hits(
    operations: list[tuple[str, tuple[str, ...], str, str]], query: str, subtree: bool
) -> None:
    """For any edit history, SQLite and in-memory recall are equal, scores included."""

    async def go(path: Path) -> None:
        memory = InMemoryMemoryStore()
        sqlite = SQLiteMemoryStore(path)
        try:
            for op, ns, key, text in operations:
                if op == "put":
                    await memory.remember(ns, key, text)
                    await sqlite.remember(ns, key, text)
                else:
                    assert await memory.delete(ns, key) == await sqlite.delete(ns, key)
                for space in [("a",), ("c",)]:
                    got = await sqlite.recall(
                        space, query, 5, include_descendants=subtree
                    )
                    want = await memory.recall(
                        space, query, 5, include_descendants=subtree
                    )
                    assert got == want
        finally:
            sqlite.close()

    with tempfile.TemporaryDirectory() as tmp:
        run(go(Path(tmp) / "m.db"))
