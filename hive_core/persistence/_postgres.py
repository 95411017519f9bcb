"""The PostgreSQL checkpoint store: many processes and machines, linear storage.

The layout is the SQLite store's (see ``docs/concepts/checkpoint-storage.md``): a
thread table, one row per checkpoint with a MessagePack body, one stream row per
``(thread, channel)`` and the version chains of each channel in a blob table keyed by
``stream << 32 | version``. A save stores only what changed: a channel whose bytes
equal its stream head reuses that version, one that extends it stores a delta.

**One statement per save.** Every save is a single ``INSERT … WITH`` statement whose
data-modifying CTEs move the thread row's latest checkpoint (the fence: only if it
is the one the save expects), then insert the new blob rows, move the stream heads
and upsert the checkpoint row only if the fence held: one implicit transaction, one
round trip, atomic whatever happens to the client or the server. A refused fence is
``CheckpointConflict`` and nothing was written (``docs/persistence.md``). The plan
comes from what the writer remembers of the thread (its own last save); a stale
memory meets a unique violation on the blob key (another writer extended the stream
first) or a fence on a deleted thread row, and the writer plans again from the tables
in a transaction, as it does for a thread it does not know (or no longer caches).

**Durability** is the server's: a save returns after ``COMMIT`` with the session's
``synchronous_commit`` (``on`` unless the server or ``synchronous_commit=`` says
otherwise), so a ``kill -9`` of the client or a server crash never loses a save that
returned, nor leaves a torn one.

Every psycopg error is mapped to a typed error (see ``_postgres_pool``); rows are
decoded with msgspec into fixed types, never unpickled.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from types import TracebackType
from typing import Any, Final, Literal

import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool

from ..errors import CheckpointCorruptError, CheckpointError
from . import _postgres_sql as sql
from ._chains import (
    MAX_STREAM,
    ChannelRef,
    HeadCache,
    inline_data,
    key_range,
    rebuild,
)
from ._errors import CheckpointConflict, StoreBusyError
from ._fence import UNFENCED, ExpectedLatest, check_expected
from ._format import Checkpoint, CheckpointSummary, check_checkpoint, check_limit
from ._postgres_plan import (
    Body,
    Plan,
    Stream,
    decode_body,
    encode_body,
    plan,
    split_inline,
)
from ._postgres_pool import PoolOwner
from ._postgres_sync import Conn
from ._threads import validate_thread_id

__all__ = ["POSTGRES_SCHEMA_VERSION", "PostgresCheckpointStore"]

POSTGRES_SCHEMA_VERSION: Final = "3"
"""Version of the table layout; a database with another version is refused.

"2" added the thread row's latest checkpoint (the fence of every save); "3" keeps
channel bytes of up to :data:`~._chains.INLINE_BYTES` in the body."""
_UPGRADES: Final = frozenset({"2"})
"""Layouts opened by rewriting only the version row (their bodies still load)."""

_SETUP_LOCK: Final = 0x48495645_43500001  # "HIVE" "CP" 1: serialises concurrent DDL
_ATTEMPTS: Final = 8


def _settings(synchronous_commit: str | None) -> dict[str, str]:
    """Session settings of the store's connections.

    ``plan_cache_mode=force_generic_plan``: psycopg prepares a statement after its
    fifth execution; the server would still re-plan the save's ``WITH`` statement
    for its parameters on every call (a custom plan), which the generic plan skips
    (``docs/persistence.md``, "The inline path"). It changes no result, only work."""
    out = {"plan_cache_mode": "force_generic_plan"}
    if synchronous_commit is not None:
        out["synchronous_commit"] = synchronous_commit
    return out


class _Thread(msgspec.Struct):
    """What a writer remembers of one thread: its key, versions and stream heads."""

    key: int
    schema_version: str
    graph_version: str
    streams: dict[str, Stream]


class _GoneThread(Exception):
    """The thread row a save remembered is gone (``delete_thread``): run again."""


class PostgresCheckpointStore:
    """A :class:`~hive_core.persistence.CheckpointStore` in a PostgreSQL database.

    ``PostgresCheckpointStore("postgresql://user@host/db")`` opens its own pools
    (one per event loop, see ``docs/persistence.md``); ``pool=`` uses an
    ``AsyncConnectionPool`` you manage. Tables are created on first use, or by
    :meth:`setup`. Native async on a running loop; off a loop (a store built from a
    URL) it is ``inline``: each call uses a psycopg sync pool and never suspends, so
    ``Runtime.run_sync`` drives runs without an event loop (``docs/persistence.md``,
    "The inline path"). Close it with :meth:`aclose` (or ``async with``).
    """

    delta_min_prefix: int = 64
    """A delta must reuse at least this many leading bytes of the previous version."""
    delta_row_cost: int = 1024
    """What reading one chain row costs, in bytes, when choosing delta or snapshot."""
    delta_cost_factor: int = 4
    """A chain may cost at most this many times what loading a snapshot costs."""
    head_cache_bytes: int = 32 * 1024 * 1024
    """Memory for the newest bytes of recently written streams."""
    thread_cache_size: int = 10_000
    """Threads whose stream heads a writer remembers (least recently saved dropped)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        pool: AsyncConnectionPool[Any] | None = None,
        min_size: int = 1,
        max_size: int = 8,
        timeout: float = 10.0,
        synchronous_commit: Literal["on", "off", "local", "remote_write"] | None = None,
    ) -> None:
        if synchronous_commit not in (None, "on", "off", "local", "remote_write"):
            raise ValueError(f"unknown synchronous_commit {synchronous_commit!r}")
        self._owner = PoolOwner(
            url,
            pool,
            store="PostgresCheckpointStore",
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            settings=_settings(synchronous_commit),
            inline=True,
        )
        self.inline = self._owner.inline
        """``True`` unless ``pool=`` was given: off a loop no call suspends."""
        self._ready = False
        self._heads = HeadCache(self.head_cache_bytes)
        self._threads: OrderedDict[str, _Thread] = OrderedDict()
        self._memo_lock = threading.Lock()
        """Inline calls may come from several threads: ``_remember`` is atomic."""

    @property
    def target(self) -> str:
        """``host:port/database`` this store talks to (no password)."""
        return self._owner.target

    # ----------------------------------------------------------------- lifecycle

    async def setup(self) -> None:
        """Create the tables if needed and check the layout version (idempotent)."""
        await self._owner.run("setup", self._setup)

    async def _setup(self, conn: Conn) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            await conn.execute(sql.META)
            cur = await conn.execute(
                "SELECT value FROM hive_checkpoint_meta WHERE name = 'schema_version'"
            )
            row = await cur.fetchone()
            if row is None:
                for statement in sql.SCHEMA:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO hive_checkpoint_meta VALUES ('schema_version', %s)",
                    (POSTGRES_SCHEMA_VERSION,),
                )
            elif row[0] in _UPGRADES:
                await conn.execute(
                    "UPDATE hive_checkpoint_meta SET value = %s "
                    "WHERE name = 'schema_version'",
                    (POSTGRES_SCHEMA_VERSION,),
                )
            elif row[0] != POSTGRES_SCHEMA_VERSION:
                raise CheckpointCorruptError(
                    "hive_checkpoint_meta.schema_version",
                    reason=f"{self.target}: store layout {row[0]!r}, this version "
                    f"reads {POSTGRES_SCHEMA_VERSION!r}",
                )
        self._ready = True

    async def _conn_run(self, operation: str, fn: Any) -> Any:
        if not self._ready:
            await self.setup()
        return await self._owner.run(operation, fn)

    async def aclose(self) -> None:
        """Close the pools this store opened. Later calls raise ``StoreClosedError``."""
        self._heads.clear()
        self._threads.clear()
        await self._owner.aclose()

    def close(self) -> None:
        """``aclose`` from sync code (when the store's loop is not running)."""
        self._heads.clear()
        self._threads.clear()
        self._owner.close()

    async def __aenter__(self) -> PostgresCheckpointStore:
        await self.setup()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------- the protocol

    async def save(
        self, checkpoint: Checkpoint, *, expected_latest: ExpectedLatest = UNFENCED
    ) -> None:
        """Store ``checkpoint`` atomically; the same (thread, id) is overwritten.

        Fenced by ``expected_latest`` in the same statement (see ``sql.WRITE``)."""
        check_checkpoint(checkpoint)
        check_expected(expected_latest)
        data, inline = split_inline(checkpoint.global_data)

        tries = 0

        async def save(conn: Conn) -> None:
            nonlocal tries
            tries += 1
            await self._save(conn, checkpoint, data, inline, expected_latest)

        try:
            await self._conn_run("save", save)
        except CheckpointConflict as exc:
            # A retry on a fresh connection after the first try's commit landed
            # (its acknowledgement lost) finds its own checkpoint as the latest.
            if not (tries > 1 and exc.actual == checkpoint.id):
                raise
            if await self.load_checkpoint(checkpoint.thread_id, checkpoint.id) != (
                checkpoint
            ):
                raise

    async def load_latest(self, thread_id: str) -> Checkpoint | None:
        """Greatest ``step_index``, ties to the greatest id; ``None`` if no thread."""
        validate_thread_id(thread_id)
        return await self._load("load_latest", sql.LATEST, (thread_id,), thread_id)

    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str
    ) -> Checkpoint | None:
        """The checkpoint with that id in that thread, or ``None``."""
        validate_thread_id(thread_id)
        validate_thread_id(checkpoint_id, what="checkpoint id")
        return await self._load(
            "load_checkpoint", sql.ONE, (thread_id, checkpoint_id), thread_id
        )

    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        """Newest first (step index, then id, both descending)."""
        validate_thread_id(thread_id)
        check_limit(limit)

        async def query(conn: Conn) -> list[Any]:
            cur = await conn.execute(sql.SUMMARIES, (thread_id, limit))
            return await cur.fetchall()

        rows = await self._conn_run("list_checkpoints", query)
        return [
            CheckpointSummary(
                id=cid,
                thread_id=thread_id,
                run_id=run_id,
                step_index=step,
                has_interruption=bool(flag),
            )
            for cid, run_id, step, flag in rows
        ]

    async def thread_exists(self, thread_id: str) -> bool:
        validate_thread_id(thread_id)

        async def query(conn: Conn) -> bool:
            cur = await conn.execute(sql.EXISTS, (thread_id,))
            row = await cur.fetchone()
            return bool(row and row[0])

        return await self._conn_run("thread_exists", query)  # type: ignore[no-any-return]

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete the thread's rows in one transaction; whether it had checkpoints.
        Saves fenced on them raise ``CheckpointConflict``; its id starts afresh."""
        validate_thread_id(thread_id)

        async def delete(conn: Conn) -> tuple[int, list[int]]:
            async with conn.transaction():
                cur = await conn.execute(sql.LOCK_THREAD, (thread_id,))
                found = await cur.fetchone()
                if found is None:
                    return 0, []
                cur = await conn.execute(sql.DELETE_THREAD, {"thread": found[0]})
                row = await cur.fetchone()
                assert row is not None
                return int(row[0]), [int(s) for s in row[1]]

        deleted, streams = await self._conn_run("delete_thread", delete)
        with self._memo_lock:
            self._threads.pop(thread_id, None)
            self._heads.drop(streams)
        return bool(deleted)

    # -------------------------------------------------------------------- save

    async def _save(
        self,
        conn: Conn,
        cp: Checkpoint,
        data: dict[str, bytes],
        inline: tuple[tuple[str, bytes], ...],
        expected: ExpectedLatest,
    ) -> None:
        """``data``: the streamed channels; ``inline``: the body's own."""
        known = self._threads.get(cp.thread_id)
        heads = None if known is None else self._cached_heads(known, data)
        if known is not None and heads is not None:
            try:
                done = await self._write(conn, cp, data, inline, known, heads, expected)
            except (psycopg.errors.UniqueViolation, _GoneThread):
                self._threads.pop(cp.thread_id, None)  # another writer moved on
            else:
                self._remember(cp.thread_id, known, done, data)
                return
        for _ in range(_ATTEMPTS):
            try:
                async with conn.transaction():
                    thread = await self._read_thread(conn, cp, data)
                    heads = await self._read_heads(conn, thread, data)
                    done = await self._write(
                        conn, cp, data, inline, thread, heads, expected
                    )
            except (psycopg.errors.UniqueViolation, _GoneThread):
                continue  # a concurrent writer extended a stream first: re-read
            self._remember(cp.thread_id, thread, done, data)
            return
        raise StoreBusyError(
            self.target,
            operation="save",
            waited=0.0,
            attempts=_ATTEMPTS,
            reason=f"thread `{cp.thread_id}` kept changing under concurrent writers",
        )

    def _cached_heads(
        self, thread: _Thread, data: dict[str, bytes]
    ) -> dict[str, bytes] | None:
        """The head bytes of every stream ``data`` touches, if all are remembered."""
        heads: dict[str, bytes] = {}
        for channel in data:
            st = thread.streams.get(channel)
            if st is None:
                return None
            if st.head >= 0:
                found = self._heads.get(st.stream, st.head)
                if found is None:
                    return None
                heads[channel] = found
        return heads

    async def _read_thread(
        self, conn: Conn, cp: Checkpoint, data: dict[str, bytes]
    ) -> _Thread:
        cur = await conn.execute(sql.THREAD_FOR_SAVE, (cp.thread_id,))
        row = await cur.fetchone()
        if row is None:
            versions = (cp.schema_version, cp.graph_version)
            await conn.execute(sql.NEW_THREAD, (cp.thread_id, *versions))
            cur = await conn.execute(sql.THREAD_FOR_SAVE, (cp.thread_id,))
            row = await cur.fetchone()
        assert row is not None
        thread = _Thread(int(row[0]), str(row[1]), str(row[2]), {})
        for _ in range(2):
            cur = await conn.execute(sql.STREAMS, (thread.key,))
            thread.streams = {ch: Stream(*rest) for ch, *rest in await cur.fetchall()}
            missing = [channel for channel in data if channel not in thread.streams]
            if not missing:
                break
            await conn.execute(sql.NEW_STREAMS, (thread.key, missing))
        for st in thread.streams.values():
            if st.stream > MAX_STREAM:
                raise CheckpointError(f"too many channel streams in one store ({st})")
        return thread

    async def _read_heads(
        self, conn: Conn, thread: _Thread, data: dict[str, bytes]
    ) -> dict[str, bytes]:
        heads: dict[str, bytes] = {}
        refs: list[ChannelRef] = []
        for channel in data:
            st = thread.streams[channel]
            if st.head < 0:
                continue
            cached = self._heads.get(st.stream, st.head)
            if cached is not None:
                heads[channel] = cached
            else:
                refs.append(ChannelRef(channel, st.stream, st.head, st.snapshot))
        if refs:
            rows = await self._fetch_rows(conn, refs)
            for ref in refs:
                heads[ref.channel] = rebuild(ref, rows, "")
        return heads

    async def _write(
        self,
        conn: Conn,
        cp: Checkpoint,
        data: dict[str, bytes],
        inline: tuple[tuple[str, bytes], ...],
        thread: _Thread,
        heads: dict[str, bytes],
        expected: ExpectedLatest,
    ) -> Plan:
        p = plan(self, data, thread.streams, heads)
        body = encode_body(
            Body(
                format_version=cp.format_version,
                schema_version=None
                if cp.schema_version == thread.schema_version
                else cp.schema_version,
                graph_version=None
                if cp.graph_version == thread.graph_version
                else cp.graph_version,
                frontier=tuple(cp.frontier),
                join_barriers=dict(cp.join_barriers),
                interruption=cp.interruption,
                channels=p.refs,
                inline=inline,
            )
        )
        params: dict[str, Any] = {
            "thread": thread.key,
            "id": cp.id,
            "step": cp.step_index,
            "run_id": cp.run_id,
            "flag": cp.interruption is not None,
            "body": body,
            "unfenced": expected is UNFENCED,
            "expected": None if expected is UNFENCED else expected,
        }
        if p.blobs or p.streams:
            keys, prefixes, crcs, datas = p.blob_columns()
            streams, heads_, snapshots, chain_bytes, chain_rows = p.stream_columns()
            ints = sql.bigints  # array literals: see its docstring
            params.update(
                keys=ints(keys),
                prefixes=ints(prefixes),
                crcs=ints(crcs),
                datas=sql.byteas(datas),
                streams=ints(streams),
                heads=ints(heads_),
                snapshots=ints(snapshots),
                chain_bytes=ints(chain_bytes),
                chain_rows=ints(chain_rows),
            )
            cur = await conn.execute(sql.WRITE, params)
        else:
            cur = await conn.execute(sql.WRITE_INLINE, params)
        if cur.rowcount != 1:
            cur = await conn.execute(sql.LATEST_ID, (thread.key,))
            row = await cur.fetchone()
            self._threads.pop(cp.thread_id, None)  # another writer moved it on
            if row is None:  # the thread was deleted: nothing was written
                raise _GoneThread
            raise CheckpointConflict(
                cp.thread_id,
                checkpoint_id=cp.id,
                expected=None if expected is UNFENCED else expected,
                actual=None if row is None else row[0],
            )
        return p

    def _remember(
        self, thread_id: str, thread: _Thread, done: Plan, data: dict[str, bytes]
    ) -> None:
        """After a commit: the new heads (and their bytes) are now facts."""
        with self._memo_lock:
            for channel, st in done.streams.items():
                thread.streams[channel] = st
                self._heads.put(st.stream, st.head, data[channel])
            self._threads[thread_id] = thread
            self._threads.move_to_end(thread_id)
            while len(self._threads) > self.thread_cache_size:
                self._threads.popitem(last=False)

    # -------------------------------------------------------------------- load

    async def _load(
        self, operation: str, query: str, params: tuple[str, ...], thread_id: str
    ) -> Checkpoint | None:
        async def load(conn: Conn) -> Checkpoint | None:
            for _ in range(_ATTEMPTS):
                cur = await conn.execute(query, params)
                row = await cur.fetchone()
                if row is None:
                    return None
                try:
                    return await self._rebuilt(conn, thread_id, row)
                except CheckpointCorruptError:
                    # Two statements, two snapshots: a `delete_thread` between them
                    # takes the blobs. Damaged only if the row is still the same.
                    cur = await conn.execute(query, params)
                    if await cur.fetchone() != row:
                        continue
                    raise
            raise StoreBusyError(
                self.target, operation=operation, waited=0.0, attempts=_ATTEMPTS,
                reason=f"thread `{thread_id}` kept changing while it was read",
            )  # fmt: skip

        return await self._conn_run(operation, load)  # type: ignore[no-any-return]

    async def _rebuilt(self, conn: Conn, thread_id: str, row: Any) -> Checkpoint:
        """The checkpoint of a row of ``sql.ROW``, its channels read back."""
        checkpoint_id, run_id, step_index, raw, schema, graph = row
        body = decode_body(checkpoint_id, raw)
        rows = await self._fetch_rows(conn, body.channels) if body.channels else {}
        return Checkpoint(
            format_version=body.format_version,
            id=checkpoint_id,
            thread_id=thread_id,
            run_id=run_id,
            step_index=step_index,
            schema_version=schema
            if body.schema_version is None
            else body.schema_version,
            graph_version=graph if body.graph_version is None else body.graph_version,
            global_data=inline_data(body.inline, body.channels, checkpoint_id)
            | {ref.channel: rebuild(ref, rows, checkpoint_id) for ref in body.channels},
            frontier=body.frontier,
            join_barriers=body.join_barriers,
            interruption=body.interruption,
        )

    @staticmethod
    async def _fetch_rows(
        conn: Conn, refs: tuple[ChannelRef, ...] | list[ChannelRef]
    ) -> dict[int, tuple[object, object, object]]:
        ranges = [key_range(ref) for ref in refs]
        cur = await conn.execute(
            sql.BLOBS,
            (
                sql.bigints([lo for lo, _ in ranges]),
                sql.bigints([hi for _, hi in ranges]),
            ),
        )
        return {
            key: (prefix, crc, data) for key, prefix, crc, data in await cur.fetchall()
        }

    # ------------------------------------------------------------- diagnostics

    async def storage_stats(self) -> dict[str, int]:
        """Row counts and bytes: table data, and everything on disk (``total``)."""

        async def stats(conn: Conn) -> dict[str, int]:
            cur = await conn.execute(
                "SELECT (SELECT count(*) FROM hive_checkpoints), "
                "(SELECT coalesce(sum(length(body)), 0) FROM hive_checkpoints), "
                "(SELECT count(*) FROM hive_checkpoint_blobs WHERE prefix IS NULL), "
                "(SELECT count(*) FROM hive_checkpoint_blobs WHERE prefix IS NOT NULL),"
                " (SELECT coalesce(sum(length(data)), 0) FROM hive_checkpoint_blobs), "
                "(SELECT sum(pg_total_relation_size(t)) FROM unnest(%s::regclass[]) t)",
                (list(sql.TABLES),),
            )
            row = await cur.fetchone()
            assert row is not None
            names = ("checkpoints", "body_bytes", "snapshots", "deltas")
            out = {name: int(value) for name, value in zip(names, row, strict=False)}
            out["blob_bytes"] = int(row[4])
            out["total_bytes"] = int(row[5])
            return out

        return await self._conn_run("storage_stats", stats)  # type: ignore[no-any-return]
