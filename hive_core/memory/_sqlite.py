"""The SQLite memory store: items persisted in one file, BM25 indexes kept warm in RAM.

SQLite is the source of truth; the per-namespace :class:`InvertedIndex` is a cache
built from it on the first recall of a namespace and written through on every change
this store makes. Changes made by *other* connections (other stores, threads or
processes on the same file) are found through ``hive_memory_log``: every write bumps
the row of its ``(namespace, key)`` to a new, strictly increasing ``seq``, so a cache
that remembers the last ``seq`` it applied replays exactly what it missed. Recall
therefore costs what the in-memory store costs plus one indexed probe of the log and
one primary-key lookup per hit, and scores are identical to the in-memory store's.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Final, final

import msgspec

from ._errors import MemorySchemaError, MemoryStoreClosedError
from ._index import InvertedIndex, gc_paused, search
from ._protocol import MemoryItem, Namespace, RecallHit
from ._tokenize import TOKENIZER_VERSION, tokenize
from ._validate import (
    check_key,
    check_limit,
    check_namespace,
    check_query,
    checked_item,
    new_item,
)

__all__ = ["SCHEMA_VERSION", "SQLiteMemoryStore"]

SCHEMA_VERSION: Final = "1"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS hive_memory_meta (
        name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS hive_memory_items (
        ns TEXT NOT NULL, key TEXT NOT NULL, text TEXT NOT NULL,
        metadata TEXT NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS hive_memory_namespaces (
        ns TEXT PRIMARY KEY) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS hive_memory_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT NOT NULL, key TEXT NOT NULL,
        UNIQUE (ns, key))""",
)
_UPSERT_ITEM = (
    "INSERT INTO hive_memory_items (ns, key, text, metadata) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (ns, key) DO UPDATE SET text = excluded.text, "
    "metadata = excluded.metadata"
)
_ADD_NAMESPACE = "INSERT OR IGNORE INTO hive_memory_namespaces (ns) VALUES (?)"
_LOG = "INSERT OR REPLACE INTO hive_memory_log (ns, key) VALUES (?, ?)"
_SELECT_ITEM = "SELECT text, metadata FROM hive_memory_items WHERE ns = ? AND key = ?"

_encode = msgspec.json.Encoder().encode
_decode_metadata = msgspec.json.Decoder(dict[str, str]).decode
_decode_namespace = msgspec.json.Decoder(tuple[str, ...]).decode


def _ns_text(namespace: Namespace) -> str:
    # JSON arrays of strings keep tuples apart ("a/b" vs "a","b") and every element
    # is self-delimiting, so a namespace's subtree is a plain text-prefix range.
    return _encode(namespace).decode()


def _subtree_range(namespace: Namespace) -> tuple[str, str, str]:
    exact = _ns_text(namespace)
    low = exact[:-1] + ("," if namespace else "")
    high = low[:-1] + chr(ord(low[-1]) + 1)
    return exact, low, high


@final
class SQLiteMemoryStore:
    """A persistent :class:`~hive_core.memory.MemoryStore` in one SQLite file (WAL).

    Several stores may open the same file, in threads or processes: readers never
    block each other or the writer, and each store sees the others' committed writes
    on its next call. Calls run inline (no thread hop); a write is one transaction
    with ``synchronous=NORMAL``, which survives a process crash (only a power loss
    can drop the last commits). The first recall of a namespace tokenises all of its
    items to warm the index (about 1 s per 100k paragraphs); later recalls do not.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        self._path = os.fspath(path)
        self._lock = threading.RLock()
        self._indexes: dict[Namespace, InvertedIndex] = {}
        self._seq = 0
        self._closed = False
        self._conn = sqlite3.connect(
            self._path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._setup()
        except BaseException:
            self._conn.close()
            raise

    def _setup(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        expected = {"schema_version": SCHEMA_VERSION, "tokenizer": TOKENIZER_VERSION}
        with self._transaction("BEGIN IMMEDIATE"):
            for statement in _SCHEMA:
                conn.execute(statement)
            for name, value in sorted(expected.items()):
                conn.execute(
                    "INSERT OR IGNORE INTO hive_memory_meta (name, value) VALUES (?, ?)",
                    (name, value),
                )
            found = dict(conn.execute("SELECT name, value FROM hive_memory_meta"))
        for name, value in sorted(expected.items()):
            if found.get(name) != value:
                raise MemorySchemaError(
                    self._path, setting=name, expected=value, found=found.get(name, "")
                )

    @property
    def path(self) -> str:
        """The database file this store was opened on."""
        return self._path

    def close(self) -> None:
        """Close the connection and drop the warm indexes. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._indexes.clear()
                self._conn.close()

    def __enter__(self) -> SQLiteMemoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self, operation: str) -> None:
        if self._closed:
            raise MemoryStoreClosedError(self._path, operation=operation)

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        """``BEGIN`` (a read snapshot) or ``BEGIN IMMEDIATE`` (the write lock)."""
        conn = self._conn
        conn.execute(begin)
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # never mask the original error
                conn.execute("ROLLBACK")
            raise

    # -- cache maintenance (callers hold the lock and an open transaction) ---------

    def _catch_up(self) -> None:
        """Replay into the warm indexes every change committed since the last call."""
        rows = self._conn.execute(
            "SELECT seq, ns, key FROM hive_memory_log WHERE seq > ? ORDER BY seq",
            (self._seq,),
        ).fetchall()
        if not rows:
            return
        self._seq = rows[-1][0]
        if not self._indexes:
            return
        for _, ns_text, key in rows:
            namespace = _decode_namespace(ns_text)
            index = self._indexes.get(namespace)
            if index is None:
                continue
            row = self._conn.execute(
                "SELECT text FROM hive_memory_items WHERE ns = ? AND key = ?",
                (ns_text, key),
            ).fetchone()
            if row is None:
                index.remove(key)
                if not len(index):
                    del self._indexes[namespace]
            else:
                index.upsert(key, tokenize(row[0]))

    def _warm(self, namespace: Namespace) -> InvertedIndex | None:
        index = self._indexes.get(namespace)
        if index is not None:
            return index
        index = InvertedIndex()
        rows = self._conn.execute(
            "SELECT key, text FROM hive_memory_items WHERE ns = ? ORDER BY key",
            (_ns_text(namespace),),
        )
        with gc_paused():
            for key, text in rows:
                index.upsert(key, tokenize(text))
        if not len(index):
            return None
        index.flush()
        self._indexes[namespace] = index
        return index

    def _write(self, items: list[MemoryItem]) -> None:
        with self._transaction("BEGIN IMMEDIATE") as conn:
            self._catch_up()
            conn.executemany(
                _UPSERT_ITEM,
                [
                    (_ns_text(i.namespace), i.key, i.text, _encode(i.metadata).decode())
                    for i in items
                ],
            )
            names = sorted({i.namespace for i in items})
            conn.executemany(_ADD_NAMESPACE, [(_ns_text(n),) for n in names])
            conn.executemany(_LOG, [(_ns_text(i.namespace), i.key) for i in items])
            seq = conn.execute("SELECT max(seq) FROM hive_memory_log").fetchone()[0]
        self._seq = seq
        touched: dict[Namespace, InvertedIndex] = {}
        with gc_paused():
            for item in items:
                index = self._indexes.get(item.namespace)
                if index is not None:
                    index.upsert(item.key, tokenize(item.text))
                    touched[item.namespace] = index
            for index in touched.values():
                index.flush()

    # -- the MemoryStore protocol ------------------------------------------------

    async def remember(
        self,
        namespace: Namespace,
        key: str,
        text: str,
        metadata: Mapping[str, str] | None = None,
    ) -> MemoryItem:
        """Insert or replace the item at ``(namespace, key)`` and return it."""
        item = new_item(namespace, key, text, metadata)
        with self._lock:
            self._check_open("remember")
            self._write([item])
        return MemoryItem(
            namespace=item.namespace,
            key=item.key,
            text=item.text,
            metadata=dict(item.metadata),
        )

    async def remember_many(self, items: Iterable[MemoryItem]) -> int:
        """Remember every item in one transaction (later duplicates win); the count."""
        checked = [checked_item(item) for item in items]
        with self._lock:
            self._check_open("remember_many")
            if checked:
                self._write(checked)
        return len(checked)

    async def get(self, namespace: Namespace, key: str) -> MemoryItem | None:
        """The item at ``(namespace, key)``, or ``None``."""
        ns_text = _ns_text(check_namespace(namespace))
        check_key(key)
        with self._lock:
            self._check_open("get")
            row = self._conn.execute(_SELECT_ITEM, (ns_text, key)).fetchone()
        if row is None:
            return None
        return MemoryItem(
            namespace=namespace, key=key, text=row[0], metadata=_decode_metadata(row[1])
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
        check_limit(limit)
        with self._lock:
            self._check_open("recall")
            if limit <= 0 or not tokens:
                return []
            with self._transaction("BEGIN") as conn:
                self._catch_up()
                if include_descendants:
                    names = sorted(
                        _decode_namespace(row[0])
                        for row in conn.execute(
                            "SELECT ns FROM hive_memory_namespaces "
                            "WHERE ns = ? OR (ns >= ? AND ns < ?)",
                            _subtree_range(namespace),
                        )
                    )
                else:
                    names = [namespace]
                parts: list[tuple[Namespace, InvertedIndex]] = []
                for name in names:
                    index = self._warm(name)
                    if index is not None:
                        parts.append((name, index))
                hits: list[RecallHit] = []
                for score, name, key in search(parts, tokens, limit):
                    text, metadata = conn.execute(
                        _SELECT_ITEM, (_ns_text(name), key)
                    ).fetchone()
                    item = MemoryItem(
                        namespace=name,
                        key=key,
                        text=text,
                        metadata=_decode_metadata(metadata),
                    )
                    hits.append(RecallHit(item=item, score=score))
        return hits

    async def delete(self, namespace: Namespace, key: str) -> bool:
        """Remove the item; ``True`` if it existed. An emptied namespace is dropped."""
        ns_text = _ns_text(check_namespace(namespace))
        check_key(key)
        with self._lock:
            self._check_open("delete")
            seq = 0
            with self._transaction("BEGIN IMMEDIATE") as conn:
                self._catch_up()
                cursor = conn.execute(
                    "DELETE FROM hive_memory_items WHERE ns = ? AND key = ?",
                    (ns_text, key),
                )
                existed = cursor.rowcount > 0
                if existed:
                    conn.execute(
                        "DELETE FROM hive_memory_namespaces WHERE ns = ? AND NOT EXISTS "
                        "(SELECT 1 FROM hive_memory_items WHERE ns = ?)",
                        (ns_text, ns_text),
                    )
                    seq = conn.execute(_LOG, (ns_text, key)).lastrowid or 0
            if existed:
                self._seq = max(self._seq, seq)
                index = self._indexes.get(namespace)
                if index is not None:
                    index.remove(key)
                    if not len(index):
                        del self._indexes[namespace]
        return existed
