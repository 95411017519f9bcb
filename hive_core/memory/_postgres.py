"""The PostgreSQL memory store: items shared by many processes, exact BM25 in RAM.

The design is the SQLite memory store's (see ``docs/memory.md``): the tables are the
source of truth and each store keeps one :class:`InvertedIndex` per namespace it has
recalled, built from the tables on first use and written through on its own changes.
Scores are therefore the in-memory store's to the last bit. PostgreSQL's ``ts_rank``
is not BM25, and computing BM25 in SQL from stored postings costs a scan of every
posting of every query term per recall (measured in ``bench/postgres.py``); the index
costs RAM instead, and recall pays two small queries.

Other writers' changes are found through ``hive_memory_log``: each write moves its
``(namespace, key)`` to a new ``seq`` taken from the single row of
``hive_memory_clock``. Taking it locks that row until the transaction ends, so seqs
commit in increasing order and "every row with ``seq`` above the last one applied" is
exactly what a store missed. A recall replays those rows and reads its hits inside
one ``REPEATABLE READ`` snapshot, so the index and the texts always agree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Final, final

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from ..persistence._postgres_pool import PoolOwner
from ._errors import MemorySchemaError
from ._index import InvertedIndex, forget, gc_paused, search
from ._protocol import MemoryItem, Namespace, RecallHit
from ._sqlite import _encode, _metadata_decoder, _namespace_decoder, _ns_text
from ._sqlite import _subtree_range as _sqlite_subtree_range
from ._tokenize import TOKENIZER_VERSION, tokenize
from ._validate import (
    check_key,
    check_limit,
    check_namespace,
    check_query,
    checked_item,
    new_item,
)

__all__ = ["POSTGRES_MEMORY_SCHEMA_VERSION", "PostgresMemoryStore"]

POSTGRES_MEMORY_SCHEMA_VERSION: Final = "1"
_SETUP_LOCK: Final = 0x48495645_4D450001  # "HIVE" "ME" 1: serialises concurrent DDL

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS hive_memory_items (
        ns text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL,
        text text NOT NULL, metadata text NOT NULL, PRIMARY KEY (ns, key))""",
    """CREATE TABLE IF NOT EXISTS hive_memory_namespaces (
        ns text COLLATE "C" PRIMARY KEY)""",
    """CREATE TABLE IF NOT EXISTS hive_memory_log (
        ns text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL,
        seq bigint NOT NULL, PRIMARY KEY (ns, key))""",
    "CREATE INDEX IF NOT EXISTS hive_memory_log_seq ON hive_memory_log (seq)",
    """CREATE TABLE IF NOT EXISTS hive_memory_clock (
        id integer PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL)""",
    "INSERT INTO hive_memory_clock VALUES (1, 0) ON CONFLICT DO NOTHING",
)
_TICK = "UPDATE hive_memory_clock SET seq = seq + %s WHERE id = 1 RETURNING seq"
_CHANGES = (
    "SELECT l.seq, l.ns, l.key, i.text FROM hive_memory_log AS l "
    "LEFT JOIN hive_memory_items AS i ON i.ns = l.ns AND i.key = l.key "
    "WHERE l.seq > %s ORDER BY l.seq"
)
_UPSERT = (
    "INSERT INTO hive_memory_items (ns, key, text, metadata) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) "
    "ON CONFLICT (ns, key) DO UPDATE SET text = excluded.text, "
    "metadata = excluded.metadata"
)
_ADD_NAMESPACES = "INSERT INTO hive_memory_namespaces SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING"
_LOG = (
    "INSERT INTO hive_memory_log (ns, key, seq) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::int8[]) "
    "ON CONFLICT (ns, key) DO UPDATE SET seq = excluded.seq"
)
_SELECT_ITEM = "SELECT text, metadata FROM hive_memory_items WHERE ns = %s AND key = %s"
_CHANGES_AT = (
    "SELECT c.seq, l.seq, l.ns, l.key, i.text FROM hive_memory_clock AS c "
    "LEFT JOIN (hive_memory_log AS l LEFT JOIN hive_memory_items AS i "
    "ON i.ns = l.ns AND i.key = l.key) ON l.seq > %s WHERE c.id = 1 ORDER BY l.seq"
)
"""``_CHANGES`` with the clock of the same snapshot on every row (one row, of
NULLs but the clock, when nothing changed): the fast recall's first round trip."""
_HITS_AT = (
    "SELECT c.seq, i.ns, i.key, i.text, i.metadata FROM hive_memory_clock AS c "
    "LEFT JOIN (hive_memory_items AS i JOIN unnest(%s::text[], %s::text[]) "
    "AS h(ns, key) ON i.ns = h.ns AND i.key = h.key) ON true WHERE c.id = 1"
)
"""``_SELECT_HITS`` with the clock of its snapshot: equal to the first round
trip's, no write committed in between (every write ticks it first)."""
_SELECT_HITS = (
    "SELECT i.ns, i.key, i.text, i.metadata FROM hive_memory_items AS i "
    "JOIN unnest(%s::text[], %s::text[]) AS h(ns, key) "
    "ON i.ns = h.ns AND i.key = h.key"
)


@final
class PostgresMemoryStore:
    """A :class:`~hive_core.memory.MemoryStore` in PostgreSQL, shared across machines.

    ``PostgresMemoryStore("postgresql://user@host/db")`` (or ``pool=`` an
    ``AsyncConnectionPool`` you manage). Every store on the database sees the
    others' committed writes on its next call; recall gives the in-memory store's
    hits and scores. The first recall of a namespace reads all of its items to warm
    the index. Close with :meth:`aclose` (or ``async with``).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        pool: AsyncConnectionPool[Any] | None = None,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 10.0,
    ) -> None:
        self._owner = PoolOwner(
            url,
            pool,
            store="PostgresMemoryStore",
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
        )
        self._indexes: dict[Namespace, InvertedIndex] = {}
        self._seq = 0
        self._ready = False
        # Index edits must not interleave across awaits: one lock per event loop.
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    @property
    def target(self) -> str:
        """``host:port/database`` this store talks to (no password)."""
        return self._owner.target

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            for old in [known for known in self._locks if known.is_closed()]:
                del self._locks[old]
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def setup(self) -> None:
        """Create the tables if needed and check the layout and tokenizer versions."""
        await self._owner.run("setup", self._setup)

    async def _setup(self, conn: AsyncConnection[Any]) -> None:
        expected = {
            "schema_version": POSTGRES_MEMORY_SCHEMA_VERSION,
            "tokenizer": TOKENIZER_VERSION,
        }
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS hive_memory_meta ("
                'name text COLLATE "C" PRIMARY KEY, value text NOT NULL)'
            )
            cur = await conn.execute("SELECT name, value FROM hive_memory_meta")
            found = dict(await cur.fetchall())
            if not found:
                for statement in _SCHEMA:
                    await conn.execute(statement)
                for name, value in sorted(expected.items()):
                    await conn.execute(
                        "INSERT INTO hive_memory_meta VALUES (%s, %s)", (name, value)
                    )
                found = expected
        for name, value in sorted(expected.items()):
            if found.get(name) != value:
                raise MemorySchemaError(
                    self.target, setting=name, expected=value, found=found.get(name, "")
                )
        self._ready = True

    async def _run(self, operation: str, fn: Any) -> Any:
        if not self._ready:
            await self.setup()
        return await self._owner.run(operation, fn)

    async def aclose(self) -> None:
        """Close the pools this store opened and drop the warm indexes."""
        self._indexes.clear()
        await self._owner.aclose()

    def close(self) -> None:
        """``aclose`` from sync code (when the store's loop is not running)."""
        self._indexes.clear()
        self._owner.close()

    async def __aenter__(self) -> PostgresMemoryStore:
        await self.setup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- cache maintenance (callers hold the lock, inside a transaction) -------------

    async def _catch_up(self, conn: AsyncConnection[Any]) -> None:
        """Replay into the warm indexes every change committed since the last call."""
        cur = await conn.execute(_CHANGES, (self._seq,))
        self._replay(await cur.fetchall())

    def _replay(self, rows: list[Any]) -> None:
        """Apply ``(seq, ns, key, text)`` change rows (``text`` None: deleted)."""
        if not rows:
            return
        self._seq = rows[-1][0]
        for _, ns_text, key, text in rows:
            index = self._indexes.get(_namespace_decoder.decode(ns_text))
            if index is None:
                continue
            if text is None:
                index.remove(key)
                if not len(index):
                    del self._indexes[_namespace_decoder.decode(ns_text)]
            else:
                index.upsert(key, tokenize(text))

    async def _recall_warm(
        self,
        conn: AsyncConnection[Any],
        namespace: Namespace,
        tokens: list[str],
        limit: int,
    ) -> list[RecallHit] | None:
        """Recall from a warm index in two autocommit round trips, or ``None``.

        The catch-up and the hits are two snapshots; each carries the clock, and
        equal clocks mean no write committed between them, so the hits are the
        ones the caught-up index scored (what the one-snapshot path reads in five
        round trips: BEGIN, SET TRANSACTION, changes, hits, COMMIT). Otherwise, or
        when the catch-up emptied the namespace, ``None``: take that path."""
        cur = await conn.execute(_CHANGES_AT, (self._seq,))
        rows = await cur.fetchall()
        clock = rows[0][0]
        self._replay([row[1:] for row in rows if row[1] is not None])
        index = self._indexes.get(namespace)
        if index is None:
            return None
        found = search([(namespace, index)], tokens, limit)
        if not found:
            return []
        cur = await conn.execute(
            _HITS_AT, ([_ns_text(n) for _, n, _ in found], [k for _, _, k in found])
        )
        rows = await cur.fetchall()
        if rows[0][0] != clock:
            return None
        return _hits(
            found, {(ns, key): (text, meta) for _, ns, key, text, meta in rows}
        )

    async def _warm(
        self, conn: AsyncConnection[Any], namespace: Namespace
    ) -> InvertedIndex | None:
        index = self._indexes.get(namespace)
        if index is not None:
            return index
        index = InvertedIndex()
        cur = await conn.execute(
            "SELECT key, text FROM hive_memory_items WHERE ns = %s ORDER BY key",
            (_ns_text(namespace),),
        )
        rows = await cur.fetchall()
        with gc_paused():
            for key, text in rows:
                index.upsert(key, tokenize(text))
        if not len(index):
            return None
        index.flush()
        self._indexes[namespace] = index
        return index

    async def _write(self, items: list[MemoryItem]) -> None:
        # One row per (namespace, key), the last one given: ON CONFLICT cannot
        # touch a row twice in one statement.
        latest = list({(i.namespace, i.key): i for i in items}.values())

        async def write(conn: AsyncConnection[Any]) -> int:
            async with conn.transaction():
                cur = await conn.execute(_TICK, (len(latest),))
                row = await cur.fetchone()
                assert row is not None
                last = int(row[0])
                # The clock row is ours until COMMIT: every lower seq is committed,
                # so after this catch-up `last` is the store's position.
                await self._catch_up(conn)
                await conn.execute(_UPSERT, _columns(latest))
                names = sorted({_ns_text(i.namespace) for i in latest})
                await conn.execute(_ADD_NAMESPACES, (names,))
                await conn.execute(
                    _LOG,
                    (
                        [_ns_text(i.namespace) for i in latest],
                        [i.key for i in latest],
                        list(range(last - len(latest) + 1, last + 1)),
                    ),
                )
            return last

        async with self._lock():
            last = await self._run("remember", write)
            self._seq = max(self._seq, last)
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
        await self._write([item])
        return MemoryItem(
            namespace=item.namespace,
            key=item.key,
            text=item.text,
            metadata=dict(item.metadata),
        )

    async def remember_many(self, items: Iterable[MemoryItem]) -> int:
        """Remember every item in one transaction (later duplicates win); the count."""
        checked = [checked_item(item) for item in items]
        if checked:
            await self._write(checked)
        return len(checked)

    async def get(self, namespace: Namespace, key: str) -> MemoryItem | None:
        """The item at ``(namespace, key)``, or ``None``."""
        ns_text = _ns_text(check_namespace(namespace))
        check_key(key)

        async def get(conn: AsyncConnection[Any]) -> Any:
            cur = await conn.execute(_SELECT_ITEM, (ns_text, key))
            return await cur.fetchone()

        row = await self._run("get", get)
        if row is None:
            return None
        return MemoryItem(
            namespace=namespace,
            key=key,
            text=row[0],
            metadata=_metadata_decoder.decode(row[1]),
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

        async def recall(conn: AsyncConnection[Any]) -> list[RecallHit]:
            async with conn.transaction():
                await conn.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
                )
                await self._catch_up(conn)
                if include_descendants:
                    cur = await conn.execute(
                        "SELECT ns FROM hive_memory_namespaces "
                        "WHERE ns = %s OR (ns >= %s AND ns < %s)",
                        _sqlite_subtree_range(namespace),
                    )
                    names = sorted(
                        _namespace_decoder.decode(r[0]) for r in await cur.fetchall()
                    )
                else:
                    names = [namespace]
                parts: list[tuple[Namespace, InvertedIndex]] = []
                for name in names:
                    index = await self._warm(conn, name)
                    if index is not None:
                        parts.append((name, index))
                found = search(parts, tokens, limit)
                if not found:
                    return []
                cur = await conn.execute(
                    _SELECT_HITS,
                    ([_ns_text(n) for _, n, _ in found], [k for _, _, k in found]),
                )
                rows = {
                    (ns, key): (text, meta)
                    for ns, key, text, meta in await cur.fetchall()
                }
            return _hits(found, rows)

        async with self._lock():
            if not include_descendants and namespace in self._indexes:

                async def fast(conn: AsyncConnection[Any]) -> list[RecallHit] | None:
                    return await self._recall_warm(conn, namespace, tokens, limit)

                hits = await self._run("recall", fast)
                if hits is not None:
                    return hits  # type: ignore[no-any-return]
            return await self._run("recall", recall)  # type: ignore[no-any-return]

    async def delete(self, namespace: Namespace, key: str) -> bool:
        """Remove the item; ``True`` if it existed. An emptied namespace is dropped."""
        ns_text = _ns_text(check_namespace(namespace))
        check_key(key)

        async def delete(conn: AsyncConnection[Any]) -> tuple[int, bool]:
            async with conn.transaction():
                cur = await conn.execute(_TICK, (1,))  # first: see _write
                row = await cur.fetchone()
                assert row is not None
                seq = int(row[0])
                await self._catch_up(conn)
                cur = await conn.execute(
                    "DELETE FROM hive_memory_items WHERE ns = %s AND key = %s",
                    (ns_text, key),
                )
                existed = cur.rowcount > 0
                if existed:
                    await conn.execute(
                        "DELETE FROM hive_memory_namespaces WHERE ns = %s AND NOT "
                        "EXISTS (SELECT 1 FROM hive_memory_items WHERE ns = %s)",
                        (ns_text, ns_text),
                    )
                    await conn.execute(_LOG, ([ns_text], [key], [seq]))
            return seq, existed

        async with self._lock():
            seq, existed = await self._run("delete", delete)
            self._seq = max(self._seq, seq)
            if not existed:
                return False
            forget(self._indexes, namespace, key)
        return True


def _columns(items: list[MemoryItem]) -> tuple[list[str], ...]:
    return (
        [_ns_text(i.namespace) for i in items],
        [i.key for i in items],
        [i.text for i in items],
        [_encode(i.metadata).decode() for i in items],
    )


def _hits(
    found: list[tuple[float, Namespace, str]],
    rows: Mapping[tuple[str, str], tuple[str, str]],
) -> list[RecallHit]:
    """``search``'s ranked keys as hits, text and metadata from ``rows``."""
    hits = []
    for score, name, key in found:
        text, meta = rows[(_ns_text(name), key)]
        item = MemoryItem(
            namespace=name,
            key=key,
            text=text,
            metadata=_metadata_decoder.decode(meta),
        )
        hits.append(RecallHit(item=item, score=score))
    return hits
