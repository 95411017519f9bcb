"""The SQLite memory store: items persisted in one file, BM25 indexes kept warm in RAM.

SQLite is the source of truth; the per-namespace :class:`InvertedIndex` is a cache
built from it on the first recall of a namespace and written through on every change
this store makes. Changes made by *other* connections (other stores, threads or
processes on the same file) are found through ``hive_memory_log``: every write bumps
the row of its ``(namespace, key)`` to a new, strictly increasing ``seq``, so a cache
that remembers the last ``seq`` it applied replays exactly what it missed. Recall
therefore costs what the in-memory store costs plus one indexed probe of the log and
one primary-key lookup per hit, and scores are identical to the in-memory store's.

The connection (WAL, the lock, busy retries, typed errors for a closed, busy or
damaged file) is the lifecycle every SQLite store shares, in
``hive_core/persistence/_connection.py``; rows that do not decode raise
:class:`MemoryCorruptError`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Final, final

import msgspec

from ..persistence._connection import (
    BusyPolicy,
    SQLiteConnection,
    SQLiteStoreBase,
    busy_policy,
)
from ._errors import MemoryCorruptError, MemorySchemaError
from ._index import InvertedIndex, forget, gc_paused, search
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
_EXPECTED_META: Final = {
    "schema_version": SCHEMA_VERSION,
    "tokenizer": TOKENIZER_VERSION,
}

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
_metadata_decoder = msgspec.json.Decoder(dict[str, str])
_namespace_decoder = msgspec.json.Decoder(tuple[str, ...])


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
class SQLiteMemoryStore(SQLiteStoreBase):
    """A persistent :class:`~hive_core.memory.MemoryStore` in one SQLite file (WAL).

    Several stores may open the same file, in threads or processes: readers never
    block each other or the writer, and each store sees the others' committed writes
    on its next call. Calls run inline (no thread hop); a write is one transaction
    with ``synchronous=NORMAL``, which survives a process crash (only a power loss
    can drop the last commits). The first recall of a namespace tokenises all of its
    items to warm the index (about 1 s per 100k paragraphs); later recalls do not.
    ``timeout`` is how long a call waits for another writer's lock (seconds, or a
    :class:`~hive_core.persistence.BusyPolicy`) before ``StoreBusyError``.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float | BusyPolicy = 5.0
    ) -> None:
        self._indexes: dict[Namespace, InvertedIndex] = {}
        self._seq = 0
        self._db = SQLiteConnection(
            path, store="SQLiteMemoryStore", busy=busy_policy(timeout)
        )
        try:
            self._check_meta(
                self._db.call("open", self._setup, begin="BEGIN IMMEDIATE")
            )
        except BaseException:
            self._db.close()
            raise

    @staticmethod
    def _setup(conn: sqlite3.Connection) -> dict[str, object]:
        for statement in _SCHEMA:
            conn.execute(statement)
        for name, value in sorted(_EXPECTED_META.items()):
            conn.execute(
                "INSERT OR IGNORE INTO hive_memory_meta (name, value) VALUES (?, ?)",
                (name, value),
            )
        return dict(conn.execute("SELECT name, value FROM hive_memory_meta"))

    def _check_meta(self, found: dict[str, object]) -> None:
        for name, value in sorted(_EXPECTED_META.items()):
            if found.get(name) != value:
                raise MemorySchemaError(
                    self.path,
                    setting=name,
                    expected=value,
                    found=str(found.get(name, "")),
                )

    def _on_close(self) -> None:
        self._indexes.clear()

    def _corrupt(self, ns_text: str, key: object, reason: str) -> MemoryCorruptError:
        return MemoryCorruptError(
            self.path, namespace=ns_text, key=str(key), reason=reason
        )

    def _namespace(self, ns_text: object) -> Namespace:
        try:
            if not isinstance(ns_text, str):
                raise TypeError(f"namespace column is {type(ns_text).__name__}")
            return _namespace_decoder.decode(ns_text)
        except (TypeError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise self._corrupt(repr(ns_text), "", str(exc)) from None

    def _item(self, ns_text: str, key: str, row: object) -> tuple[str, dict[str, str]]:
        """``(text, metadata)`` of a row of ``_SELECT_ITEM``, checked."""
        if not isinstance(row, tuple) or len(row) != 2:
            raise self._corrupt(ns_text, key, "the item row is missing")
        text, metadata = row
        if not isinstance(text, str):
            raise self._corrupt(ns_text, key, f"text is {type(text).__name__}")
        try:
            if not isinstance(metadata, str):
                raise TypeError(f"metadata is {type(metadata).__name__}")
            return text, _metadata_decoder.decode(metadata)
        except (TypeError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise self._corrupt(ns_text, key, str(exc)) from None

    # -- cache maintenance (inside a transaction of ``self._db.call``) ------------

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        """Replay into the warm indexes every change committed since the last call.

        Repeating it (when a locked transaction is retried) is harmless: it reads
        only committed rows and moves ``_seq`` forward.
        """
        rows = conn.execute(
            "SELECT seq, ns, key FROM hive_memory_log WHERE seq > ? ORDER BY seq",
            (self._seq,),
        ).fetchall()
        if not rows:
            return
        if not self._indexes:
            self._seq = rows[-1][0]
            return
        for _, ns_text, key in rows:
            index = self._indexes.get(self._namespace(ns_text))
            if index is None:
                continue
            row = conn.execute(
                "SELECT text FROM hive_memory_items WHERE ns = ? AND key = ?",
                (ns_text, key),
            ).fetchone()
            if row is None:
                index.remove(key)
                if not len(index):
                    del self._indexes[self._namespace(ns_text)]
            else:
                index.upsert(key, self._tokens(ns_text, key, row[0]))
        self._seq = rows[-1][0]

    def _tokens(self, ns_text: str, key: object, text: object) -> list[str]:
        if not isinstance(text, str) or not isinstance(key, str):
            raise self._corrupt(ns_text, key, f"text is {type(text).__name__}")
        return tokenize(text)

    def _warm(
        self, conn: sqlite3.Connection, namespace: Namespace
    ) -> InvertedIndex | None:
        index = self._indexes.get(namespace)
        if index is not None:
            return index
        index = InvertedIndex()
        ns_text = _ns_text(namespace)
        rows = conn.execute(
            "SELECT key, text FROM hive_memory_items WHERE ns = ? ORDER BY key",
            (ns_text,),
        )
        with gc_paused():
            for key, text in rows:
                index.upsert(key, self._tokens(ns_text, key, text))
        if not len(index):
            return None
        index.flush()
        self._indexes[namespace] = index
        return index

    def _write(self, items: list[MemoryItem]) -> None:
        def write(conn: sqlite3.Connection) -> int:
            self._catch_up(conn)
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
            return int(
                conn.execute("SELECT max(seq) FROM hive_memory_log").fetchone()[0]
            )

        with self._db.lock:
            self._seq = self._db.call("remember", write, begin="BEGIN IMMEDIATE")
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
        self._db.check_open("remember")
        await self._db.arun(lambda: self._write([item]))
        return MemoryItem(
            namespace=item.namespace,
            key=item.key,
            text=item.text,
            metadata=dict(item.metadata),
        )

    async def remember_many(self, items: Iterable[MemoryItem]) -> int:
        """Remember every item in one transaction (later duplicates win); the count."""
        checked = [checked_item(item) for item in items]
        self._db.check_open("remember_many")
        if checked:
            await self._db.arun(lambda: self._write(checked))
        return len(checked)

    async def get(self, namespace: Namespace, key: str) -> MemoryItem | None:
        """The item at ``(namespace, key)``, or ``None``."""
        ns_text = _ns_text(check_namespace(namespace))
        check_key(key)
        row = await self._db.acall(
            "get", lambda conn: conn.execute(_SELECT_ITEM, (ns_text, key)).fetchone()
        )
        if row is None:
            return None
        text, metadata = self._item(ns_text, key, row)
        return MemoryItem(namespace=namespace, key=key, text=text, metadata=metadata)

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
        self._db.check_open("recall")
        if limit <= 0 or not tokens:
            return []

        def read(conn: sqlite3.Connection) -> list[RecallHit]:
            self._catch_up(conn)
            if include_descendants:
                names = sorted(
                    self._namespace(row[0])
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
                index = self._warm(conn, name)
                if index is not None:
                    parts.append((name, index))
            hits: list[RecallHit] = []
            for score, name, key in search(parts, tokens, limit):
                ns_text = _ns_text(name)
                row = conn.execute(_SELECT_ITEM, (ns_text, key)).fetchone()
                text, metadata = self._item(ns_text, key, row)
                item = MemoryItem(namespace=name, key=key, text=text, metadata=metadata)
                hits.append(RecallHit(item=item, score=score))
            return hits

        return await self._db.acall("recall", read)

    async def delete(self, namespace: Namespace, key: str) -> bool:
        """Remove the item; ``True`` if it existed. An emptied namespace is dropped."""
        ns_text = _ns_text(check_namespace(namespace))
        check_key(key)

        def delete(conn: sqlite3.Connection) -> int | None:
            self._catch_up(conn)
            cursor = conn.execute(
                "DELETE FROM hive_memory_items WHERE ns = ? AND key = ?",
                (ns_text, key),
            )
            if cursor.rowcount <= 0:
                return None
            conn.execute(
                "DELETE FROM hive_memory_namespaces WHERE ns = ? AND NOT EXISTS "
                "(SELECT 1 FROM hive_memory_items WHERE ns = ?)",
                (ns_text, ns_text),
            )
            return conn.execute(_LOG, (ns_text, key)).lastrowid or 0

        def run() -> bool:
            with self._db.lock:
                seq = self._db.call("delete", delete, begin="BEGIN IMMEDIATE")
                if seq is None:
                    return False
                self._seq = max(self._seq, seq)
                forget(self._indexes, namespace, key)
            return True

        return await self._db.arun(run)
