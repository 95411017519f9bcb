"""What only the SQLite store promises: persistence, sharing a file, and its errors."""

from __future__ import annotations

import asyncio
import pickle
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hive_core.memory import (
    InMemoryMemoryStore,
    MemoryItem,
    MemorySchemaError,
    MemoryStoreClosedError,
    SQLiteMemoryStore,
)

T = TypeVar("T")

TEXTS = {
    "a": "sqlite keeps memories in a single file",
    "b": "write ahead logging lets readers run beside a writer",
    "c": "a file per agent keeps memories apart",
    "d": "readers never block the writer",
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _fill(store: SQLiteMemoryStore | InMemoryMemoryStore) -> None:
    for key, text in TEXTS.items():
        await store.remember(("agent", "1"), key, text, {"k": key})


def test_reopening_the_file_gives_the_same_results(tmp_path: Path) -> None:
    """Items, scores and order survive closing and reopening the database."""
    path = tmp_path / "memory.db"
    queries = ["memories file", "readers writer", "a"]

    async def before() -> list[Any]:
        with SQLiteMemoryStore(path) as store:
            await _fill(store)
            await store.delete(("agent", "1"), "d")
            return [await store.recall(("agent", "1"), q) for q in queries]

    async def after() -> tuple[list[Any], MemoryItem | None]:
        with SQLiteMemoryStore(path) as store:
            hits = [await store.recall(("agent", "1"), q) for q in queries]
            return hits, await store.get(("agent", "1"), "a")

    first = run(before())
    second, item = run(after())
    assert first == second
    assert item == MemoryItem(
        namespace=("agent", "1"), key="a", text=TEXTS["a"], metadata={"k": "a"}
    )
    assert all(h.item.key != "d" for hits in second for h in hits)


def test_database_uses_wal(tmp_path: Path) -> None:
    """The file is in WAL mode, so readers and a writer do not block each other."""
    path = tmp_path / "memory.db"
    SQLiteMemoryStore(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_second_store_sees_writes_to_a_namespace_it_has_warmed(
    tmp_path: Path,
) -> None:
    """Upserts, deletes and new namespaces by another connection reach the cache."""
    path = tmp_path / "memory.db"

    async def go() -> None:
        with SQLiteMemoryStore(path) as writer, SQLiteMemoryStore(path) as reader:
            await _fill(writer)
            assert len(await reader.recall(("agent", "1"), "memories")) == 2  # warm
            await writer.remember(("agent", "1"), "a", "nothing relevant now")
            await writer.delete(("agent", "1"), "c")
            await writer.remember(("agent", "1"), "e", "memories memories")
            await writer.remember(("agent", "1", "sub"), "f", "memories below")
            got = await reader.recall(("agent", "1"), "memories")
            memory = InMemoryMemoryStore()
            await _fill(memory)
            await memory.remember(("agent", "1"), "a", "nothing relevant now")
            await memory.delete(("agent", "1"), "c")
            await memory.remember(("agent", "1"), "e", "memories memories")
            await memory.remember(("agent", "1", "sub"), "f", "memories below")
            assert got == await memory.recall(("agent", "1"), "memories")
            sub = await reader.recall(("agent",), "memories", include_descendants=True)
            want = await memory.recall(("agent",), "memories", include_descendants=True)
            assert sub == want
            assert [h.item.key for h in sub] == ["e", "f"]

    run(go())


def test_writes_from_a_cache_holder_do_not_lose_others_writes(tmp_path: Path) -> None:
    """Two warm stores writing in turn both end up with every change."""
    path = tmp_path / "memory.db"

    async def go() -> None:
        with SQLiteMemoryStore(path) as one, SQLiteMemoryStore(path) as two:
            await one.remember(("n",), "x", "apple")
            await two.recall(("n",), "apple")
            await one.recall(("n",), "apple")
            await one.remember(("n",), "y", "apple pie")
            await two.remember(("n",), "z", "apple tart")
            await one.remember(("n",), "w", "apple crumble")
            a = await one.recall(("n",), "apple")
            b = await two.recall(("n",), "apple")
            assert a == b
            assert sorted(h.item.key for h in a) == ["w", "x", "y", "z"]

    run(go())


def test_concurrent_reader_threads_get_identical_results(tmp_path: Path) -> None:
    """Readers in threads (own stores and one shared store) recall while a writer writes."""
    path = tmp_path / "memory.db"

    async def seed() -> list[Any]:
        with SQLiteMemoryStore(path) as store:
            await store.remember_many(
                MemoryItem(
                    namespace=("n",),
                    key=f"k{i:03}",
                    text=f"doc {i} about topic {i % 7}",
                )
                for i in range(300)
            )
            return await store.recall(("n",), "topic 3 about", 20)

    expected = run(seed())
    shared = SQLiteMemoryStore(path)
    errors: list[BaseException] = []
    results: list[Any] = []
    lock = threading.Lock()

    def reader(own: bool) -> None:
        try:
            store = SQLiteMemoryStore(path) if own else shared
            try:
                for _ in range(20):
                    hits = run(store.recall(("n",), "topic 3 about", 20))
                    with lock:
                        results.append(hits)
            finally:
                if own:
                    store.close()
        except BaseException as exc:
            errors.append(exc)

    def writer() -> None:
        try:
            with SQLiteMemoryStore(path) as store:
                for i in range(30):
                    run(store.remember(("other",), f"w{i}", "unrelated namespace"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i % 2 == 0,)) for i in range(4)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.close()
    assert errors == []
    assert len(results) == 80
    assert all(hits == expected for hits in results)


def test_another_process_can_read_while_this_one_holds_the_file(tmp_path: Path) -> None:
    """A second process opens the same file and sees committed items."""
    path = tmp_path / "memory.db"

    async def go() -> None:
        with SQLiteMemoryStore(path) as store:
            await _fill(store)
            code = (
                "import asyncio, sys\n"
                "from hive_core.memory import SQLiteMemoryStore\n"
                "s = SQLiteMemoryStore(sys.argv[1])\n"
                "hits = asyncio.run(s.recall(('agent', '1'), 'readers writer'))\n"
                "print(','.join(h.item.key for h in hits))\n"
                "s.close()\n"
            )
            out = subprocess.run(
                [sys.executable, "-c", code, str(path)],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            hits = await store.recall(("agent", "1"), "readers writer")
            assert out.stdout.strip() == ",".join(h.item.key for h in hits)

    run(go())


def test_using_a_closed_store_raises(tmp_path: Path) -> None:
    """Every call after close() raises StoreClosedError (the one closed-store error
    of every SQLite store, also exported as MemoryStoreClosedError); close is
    idempotent."""
    store = SQLiteMemoryStore(tmp_path / "memory.db")
    store.close()
    store.close()
    with pytest.raises(MemoryStoreClosedError) as info:
        run(store.recall(("n",), "q"))
    assert info.value.code == "store-closed"
    assert info.value.store == "SQLiteMemoryStore"
    assert info.value.operation == "recall"
    for call in (
        store.remember(("n",), "k", "t"),
        store.get(("n",), "k"),
        store.delete(("n",), "k"),
        store.remember_many([]),
    ):
        with pytest.raises(MemoryStoreClosedError):
            run(call)
    clone = pickle.loads(pickle.dumps(info.value))
    assert str(clone) == str(info.value)


def test_a_file_from_another_tokenizer_is_refused(tmp_path: Path) -> None:
    """A different tokenizer or schema version in the file raises MemorySchemaError."""
    path = tmp_path / "memory.db"
    SQLiteMemoryStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE hive_memory_meta SET value = 'other' WHERE name = 'tokenizer'"
        )
    with pytest.raises(MemorySchemaError) as info:
        SQLiteMemoryStore(path)
    assert info.value.code == "memory-schema-mismatch"
    assert (info.value.setting, info.value.found) == ("tokenizer", "other")
    assert "other" in str(info.value)


def test_hostile_strings_are_data_not_sql(tmp_path: Path) -> None:
    """Quotes and SQL in namespaces, keys and queries are stored verbatim."""
    evil = "x'); DROP TABLE hive_memory_items; --"

    async def go() -> None:
        with SQLiteMemoryStore(tmp_path / "memory.db") as store:
            await store.remember((evil, '"]'), evil, evil, {evil: evil})
            item = await store.get((evil, '"]'), evil)
            assert item is not None and item.metadata == {evil: evil}
            (hit,) = await store.recall((evil,), evil, include_descendants=True)
            assert hit.item == item

    run(go())
