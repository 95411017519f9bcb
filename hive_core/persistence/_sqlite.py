"""The SQLite checkpoint store: one file, one transaction per save, linear growth.

Layout (see ``docs/concepts/checkpoint-storage.md`` for the reasoning and numbers):

``hive_checkpoint_threads``
    ``thread_id`` → a small integer key, so the bigger tables repeat 1-2 bytes, not the
    id; also the schema and graph versions of the thread's first checkpoint, which
    later bodies then omit when theirs are the same.
``hive_checkpoints``
    One row per checkpoint: id, run id, step index and interruption flag as columns
    (listings read only those), plus ``body``, a MessagePack array with everything
    else except ``global_data``, and for each checkpointed channel a reference
    ``(channel, stream, version, snapshot)`` into the blob table. ``body_crc`` is a
    CRC-32 of the body seeded with the row's columns and the thread's versions
    (:func:`body_crc`), checked on every load before the body is decoded. Keyed by
    ``(thread, step_index, checkpoint_id)``, ``(thread, checkpoint_id)`` unique;
    older files keep a rowid table, which the same statements serve.
``hive_checkpoint_streams``
    One row per ``(thread, channel)``: the current head version of that channel's
    version chain and what the writer needs to choose delta or snapshot. A deleted
    thread's rows stay as tombstones (``thread`` = ``-stream``), never reclaimed.
``hive_checkpoint_blobs``
    Each version of each stream, keyed by ``stream << 32 | version`` (one b-tree, no
    extra index, and a chain is one contiguous key range). A row is either a
    *snapshot* (``prefix`` NULL, ``data`` = the bytes) or a *delta* (``data`` is the
    suffix that replaces everything after the first ``prefix`` bytes of the previous
    version). ``crc`` is a CRC-32 of the row's ``data`` seeded with its ``prefix``,
    checked on every load.

A checkpoint whose channel bytes equal the stream head reuses the head version (no
new row). Otherwise the writer stores a delta when the new bytes share at least
``delta_min_prefix`` leading bytes with the head and loading the longer chain would
still cost at most ``delta_cost_factor`` times loading a snapshot, counting each row
as ``delta_row_cost`` bytes; otherwise a snapshot. An append-only JSON list therefore
costs about one appended item per step, and a load reads at most a bounded multiple
of a snapshot's cost.

Durability: WAL journal with ``synchronous=NORMAL``. Each ``save`` is one
``BEGIN IMMEDIATE`` … ``COMMIT``; a process crash (even ``kill -9`` mid-save) leaves
the last committed checkpoint as the latest. Only a power loss or OS crash can drop
the last few commits (never corrupt the file). Pick a different trade-off with
``synchronous="FULL"``.

Concurrency and failures: the connection lifecycle of ``_connection.py`` (one
connection per store object, guarded by a lock, so a store may be shared between
threads; a locked database is retried until ``timeout`` and then raises
``StoreBusyError``; a damaged file raises ``StoreDamagedError``). Several store
objects (threads or processes) may open the same file: in WAL mode readers never
block each other or the writer.

Nothing is ever unpickled: rows are decoded with msgspec into fixed types, so a
crafted file can at worst raise :class:`~hive_core.errors.CheckpointDecodeError` or
:class:`~hive_core.errors.CheckpointCorruptError`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Literal, TypeAlias

from ..errors import (
    CheckpointCorruptError,
    CheckpointError,
)
from ._chains import (
    INLINE_BYTES,
    MAX_STREAM,
    ChannelRef,
    HeadCache,
    Row,
    common_prefix,
    inline_data,
    rebuild,
)
from ._connection import BusyPolicy, SQLiteConnection, SQLiteStoreBase, busy_policy
from ._fence import UNFENCED, ExpectedLatest, check_expected
from ._format import (
    Checkpoint,
    CheckpointSummary,
    check_checkpoint,
    check_limit,
)
from ._incremental import ChannelChange, StreamToken, Unchanged
from ._sqlite_rows import (
    FENCED_UPSERT,
    INSERT_STREAM,
    INSERT_THREAD,
    META_EXISTS,
    META_VERSION,
    ROW_TYPES,
    SCHEMA,
    SCHEMA_OBJECTS,
    SELECT_LATEST,
    SELECT_ONE,
    SELECT_SUMMARIES,
    THREAD_EXISTS,
    THREAD_KEY,
    UPSERT_CHECKPOINT,
    Body,
    Stream,
    append_version,
    as_bytes,
    checked_body,
    checkpoint_row,
    delete_thread_rows,
    fenced_streams,
    fetch_chains,
    frontier_entry,
    keyed_table,
    read_chain,
    storage_stats,
    typed_row,
)
from ._threads import validate_thread_id

__all__ = ["STORE_SCHEMA_VERSION", "SQLiteCheckpointStore"]

ThreadRow: TypeAlias = tuple[int, str, str]
"""A thread's key and first schema and graph versions (never changed once
committed: no statement updates or deletes a thread row, ``delete_thread``
included)."""

_MAX_THREAD_ROWS: Final = 65_536
"""Thread rows remembered per store object; past that a save reads its row."""

STORE_SCHEMA_VERSION: Final = "4"
"""Version of the table layout; a file with another version is refused.

"2" added ``hive_checkpoints.body_crc``; "3" stores frontier entries as arrays
(:data:`~._sqlite_rows.EntryRow`); "4" keeps channel bytes of up to
:data:`~._chains.INLINE_BYTES` in the body (``Body.inline``). A file of layout
"2" or "3" is upgraded on opening (its version row rewritten, nothing else: every
older body still loads). The checkpoints table's key (above) is not versioned."""

_UPGRADES: Final = frozenset({"2", "3"})
"""Layouts this version opens, rewriting only the version row."""


class SQLiteCheckpointStore(SQLiteStoreBase):
    """A persistent :class:`~hive_core.persistence.CheckpointStore` in one SQLite file.

    ``SQLiteCheckpointStore("hive.db")`` or ``SQLiteCheckpointStore(":memory:")``;
    close it (or use it as a context manager) when done. Without a running event
    loop every method runs synchronously (``inline = True``), so ``run_sync`` needs
    no event loop; on a loop, a call that meets a lock waits in a worker thread
    instead of stalling the loop (``docs/persistence.md``). A ``save`` is one transaction; storage grows with what changed,
    not with the size of the state (see the module docstring). ``timeout`` is how
    long one call waits for another connection's lock (seconds, or a
    :class:`~hive_core.persistence.BusyPolicy`) before ``StoreBusyError``.
    """

    inline: ClassVar[bool] = True
    """Without a running loop no method awaits a real future: usable by
    ``run_sync``."""

    delta_min_prefix: int = 64
    """A delta must reuse at least this many leading bytes of the previous version."""
    delta_row_cost: int = 1024
    """What reading one chain row costs, in bytes (measured: a row ~1.5 µs, a byte
    ~1 ns; the lower figure favours deltas, i.e. smaller files)."""
    delta_cost_factor: int = 4
    """A chain may cost at most this many times what loading a snapshot costs."""
    head_cache_bytes: int = 32 * 1024 * 1024
    """Memory for the newest bytes of recently written streams."""
    page_size: int = 8192
    """SQLite page size of a new file: blob rows of about 1 KiB leave a quarter of a
    4 KiB page empty, an eighth of an 8 KiB one (an existing file keeps its own)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float | BusyPolicy = 5.0,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        self._heads = HeadCache(self.head_cache_bytes)
        self._thread_rows: dict[str, ThreadRow] = {}
        """Committed thread rows, so a save does not read its thread's row again."""
        self._db = SQLiteConnection(
            path,
            store="SQLiteCheckpointStore",
            busy=busy_policy(timeout),
            synchronous=synchronous,
            page_size=self.page_size,
        )
        try:
            # A read first: opening a complete file must not wait for a writer.
            if not self._db.call("open", self._check_layout):
                self._db.call("open", self._setup, begin="BEGIN IMMEDIATE")
            self._keyed = self._db.call("open", keyed_table)
            """Whether the checkpoints table has the ``WITHOUT ROWID`` key: only
            then is the fence cheap inside the upsert (``_save_inline``)."""
        except BaseException:
            self._db.close()
            raise

    def _check_layout(self, conn: sqlite3.Connection) -> bool:
        """Whether every table exists; refuse a file of another layout untouched."""
        if conn.execute(META_EXISTS).fetchone() is None:
            return False
        if self._setup(conn, create=False) != STORE_SCHEMA_VERSION:
            return False  # an upgrade: rewritten under the write lock
        return int(conn.execute(SCHEMA_OBJECTS).fetchone()[0]) == len(SCHEMA)

    def _setup(self, conn: sqlite3.Connection, *, create: bool = True) -> str | None:
        """Create the tables (or upgrade an older layout), or refuse a file of
        another layout untouched; returns the layout found (``None``: new file)."""
        found = None
        if conn.execute(META_EXISTS).fetchone() is not None:
            row = conn.execute(META_VERSION).fetchone()
            found = None if row is None else row[0]
            if found != STORE_SCHEMA_VERSION and found not in _UPGRADES:
                shown = "none" if row is None else repr(found)
                raise CheckpointCorruptError(
                    "hive_checkpoint_meta.schema_version",
                    reason=f"{self.path}: store layout {shown}, this version reads "
                    f"{STORE_SCHEMA_VERSION!r}",
                )
        if not create:
            return found
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO hive_checkpoint_meta (name, value) "
            "VALUES ('schema_version', ?) ON CONFLICT (name) DO UPDATE SET "
            "value = excluded.value",
            (STORE_SCHEMA_VERSION,),
        )
        return found

    # ----------------------------------------------------------------- lifecycle

    @property
    def pragmas(self) -> dict[str, str]:
        """``journal_mode`` and ``synchronous`` as SQLite reports them."""

        def read(conn: sqlite3.Connection) -> tuple[str, int]:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            return str(mode), int(conn.execute("PRAGMA synchronous").fetchone()[0])

        mode, sync = self._db.call("pragmas", read, begin=None)
        names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        return {"journal_mode": mode, "synchronous": names.get(sync, str(sync))}

    def _on_close(self) -> None:
        self._heads.clear()
        self._thread_rows.clear()

    # ------------------------------------------------------------- the protocol

    async def save(
        self, checkpoint: Checkpoint, *, expected_latest: ExpectedLatest = UNFENCED
    ) -> None:
        """Store ``checkpoint`` atomically; the same (thread, id) is overwritten.

        Fenced by ``expected_latest`` inside the write transaction (the protocol)."""
        await self.save_changes(checkpoint, {}, expected_latest=expected_latest)

    async def save_changes(
        self,
        checkpoint: Checkpoint,
        changes: Mapping[str, ChannelChange],
        *,
        expected_latest: ExpectedLatest = UNFENCED,
    ) -> dict[str, StreamToken] | None:
        """``save``, with some channels given as changes to their stream heads.

        ``checkpoint.global_data`` holds the other channels' bytes. The fence is
        checked first (``CheckpointConflict``, nothing written); then, if a
        change's token no longer matches its stream, nothing is written and the
        result is ``None`` (see ``_incremental.py``). Otherwise returns each
        channel's stream as left by the save.
        """
        check_checkpoint(checkpoint)
        check_expected(expected_latest)
        global_data = [
            (channel, as_bytes(channel, checkpoint.global_data[channel]))
            for channel in sorted(checkpoint.global_data)
        ]
        known = self._thread_rows.get(checkpoint.thread_id)
        if (
            known is not None
            and self._keyed
            and not changes
            and all(len(data) <= INLINE_BYTES for _, data in global_data)
            and await self._db.acall(
                "save",
                lambda conn: self._save_inline(
                    conn, checkpoint, global_data, known, expected_latest
                ),
                begin=None,
            )
        ):
            return {}  # else: the transaction below raises the conflict (or saves)
        saved = await self._db.acall(
            "save",
            lambda conn: self._save(
                conn, checkpoint, global_data, changes, expected_latest
            ),
            begin="BEGIN IMMEDIATE",
        )
        if saved is None:
            return None
        tokens, cached, thread_row = saved
        if len(self._thread_rows) < _MAX_THREAD_ROWS:
            self._thread_rows[checkpoint.thread_id] = thread_row
        for stream_key, version, data in cached:
            self._heads.put(stream_key, version, data)
        return tokens

    async def load_latest(self, thread_id: str) -> Checkpoint | None:
        """Greatest ``step_index``, ties to the greatest id; ``None`` if no thread."""
        validate_thread_id(thread_id)
        return await self._load(SELECT_LATEST, (thread_id,), thread_id)

    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        """Newest first (step index, then id, both descending)."""
        validate_thread_id(thread_id)
        check_limit(limit)
        rows = await self._db.acall(
            "list_checkpoints",
            lambda conn: conn.execute(
                SELECT_SUMMARIES, (thread_id, -1 if limit is None else limit)
            ).fetchall(),
        )
        summaries = []
        for row in rows:
            cid, run_id, step, flag = typed_row(thread_id, row, ROW_TYPES[:4])
            summaries.append(
                CheckpointSummary(
                    id=cid,
                    thread_id=thread_id,
                    run_id=run_id,
                    step_index=step,
                    has_interruption=bool(flag),
                )
            )
        return summaries

    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str
    ) -> Checkpoint | None:
        """The checkpoint with that id in that thread, or ``None``."""
        validate_thread_id(thread_id)
        validate_thread_id(checkpoint_id, what="checkpoint id")
        return await self._load(SELECT_ONE, (thread_id, checkpoint_id), thread_id)

    async def thread_exists(self, thread_id: str) -> bool:
        validate_thread_id(thread_id)
        (found,) = await self._db.acall(
            "thread_exists",
            lambda conn: conn.execute(THREAD_EXISTS, (thread_id,)).fetchone(),
        )
        return bool(found)

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete every checkpoint of the thread and its channels' stored
        versions, in one transaction; whether it had checkpoints. A save fenced
        on one of them then raises ``CheckpointConflict``."""
        validate_thread_id(thread_id)
        found, streams = await self._db.acall(
            "delete_thread",
            lambda conn: delete_thread_rows(conn, thread_id),
            begin="BEGIN IMMEDIATE",
        )
        self._heads.drop(streams)
        return found

    # -------------------------------------------------------------------- save

    def _save(
        self,
        conn: sqlite3.Connection,
        checkpoint: Checkpoint,
        global_data: list[tuple[str, bytes]],
        changes: Mapping[str, ChannelChange],
        expected: ExpectedLatest = UNFENCED,
    ) -> tuple[dict[str, StreamToken], list[tuple[int, int, bytes]], ThreadRow] | None:
        """The save transaction's body; returns the streams, the heads to cache and
        the thread's row.

        The fence comes before the tokens: a thread another writer moved on is a
        ``CheckpointConflict``, not a fallback to a full save."""
        thread_row = self._thread_rows.get(checkpoint.thread_id)
        if thread_row is None:
            thread_row = self._thread_key(conn, checkpoint)
        thread = thread_row[0]
        any_stream = bool(changes) or any(
            len(data) > INLINE_BYTES for _, data in global_data
        )
        streams = fenced_streams(conn, checkpoint, thread, expected, streams=any_stream)
        if not all(_matches(streams.get(c), ch.token) for c, ch in changes.items()):
            return None
        refs, cached, tokens, inline = [], [], {}, []
        full = dict(global_data)
        for channel in sorted([*full, *changes]):
            change = changes.get(channel)
            if change is None:
                data = full[channel]
                if len(data) <= INLINE_BYTES:
                    inline.append((channel, data))  # no stream, so no token
                    continue
                stream = streams.get(channel)
                if stream is None:
                    stream = self._new_stream(conn, thread, channel)
                stream = self._write_version(conn, channel, stream, data)
                cached.append((stream.stream, stream.head, data))
            else:
                stream, built = self._write_change(
                    conn, channel, streams[channel], change
                )
                if built is not None:
                    cached.append((stream.stream, stream.head, built))
            refs.append(
                ChannelRef(channel, stream.stream, stream.head, stream.snapshot)
            )
            tokens[channel] = StreamToken(
                stream.stream,
                stream.head,
                stream.snapshot,
                stream.chain_bytes,
                stream.chain_rows,
            )
        conn.execute(
            UPSERT_CHECKPOINT, checkpoint_row(checkpoint, thread_row, refs, inline)
        )
        return tokens, cached, thread_row

    def _save_inline(
        self,
        conn: sqlite3.Connection,
        checkpoint: Checkpoint,
        inline: list[tuple[str, bytes]],
        thread_row: ThreadRow,
        expected: ExpectedLatest,
    ) -> bool:
        """A save of a known thread whose channels are all inline, as one statement
        (its own transaction, the fence inside it); ``False``: the fence did not
        hold when it ran, and nothing was written."""
        row = checkpoint_row(checkpoint, thread_row, [], inline)
        if expected is UNFENCED:
            conn.execute(UPSERT_CHECKPOINT, row)
            return True
        return int(conn.execute(FENCED_UPSERT, (*row, expected)).rowcount) == 1

    @staticmethod
    def _thread_key(conn: sqlite3.Connection, checkpoint: Checkpoint) -> ThreadRow:
        """The thread's key and versions, creating its row on the first save."""
        row = conn.execute(THREAD_KEY, (checkpoint.thread_id,)).fetchone()
        if row is not None:
            return int(row[0]), str(row[1]), str(row[2])
        versions = (checkpoint.schema_version, checkpoint.graph_version)
        cursor = conn.execute(INSERT_THREAD, (checkpoint.thread_id, *versions))
        return int(cursor.lastrowid or 0), *versions

    @staticmethod
    def _new_stream(conn: sqlite3.Connection, thread: int, channel: str) -> Stream:
        cursor = conn.execute(INSERT_STREAM, (thread, channel))
        key = int(cursor.lastrowid or 0)
        if key > MAX_STREAM:
            raise CheckpointError(f"too many channel streams in one store ({key})")
        return Stream(key, 0, 0, 0, 0, fresh=True)

    def _head(self, conn: sqlite3.Connection, channel: str, st: Stream) -> bytes:
        head = self._heads.get(st.stream, st.head)
        if head is None:
            head = read_chain(
                conn, ChannelRef(channel, st.stream, st.head, st.snapshot)
            )
        return head

    def _write_version(
        self, conn: sqlite3.Connection, channel: str, st: Stream, data: bytes
    ) -> Stream:
        """Reuse the stream head, or append a delta or a snapshot after it."""
        if st.fresh:
            return append_version(conn, channel, st, 0, None, data)
        head = self._head(conn, channel, st)
        if head == data:
            return st
        prefix = common_prefix(head, data)
        if self._as_delta(st, prefix, len(data)):
            return append_version(conn, channel, st, st.head + 1, prefix, data[prefix:])
        return append_version(conn, channel, st, st.head + 1, None, data)

    def _write_change(
        self, conn: sqlite3.Connection, channel: str, st: Stream, change: ChannelChange
    ) -> tuple[Stream, bytes | None]:
        """Apply a change computed against the head (its token was checked); the
        new head's bytes too when they had to be built (a snapshot)."""
        if isinstance(change, Unchanged):
            return st, None
        keep, tail = change.keep, change.tail
        version = st.head + 1
        if self._as_delta(st, keep, keep + len(tail)):
            return append_version(conn, channel, st, version, keep, tail), None
        data = self._head(conn, channel, st)[:keep] + tail
        return append_version(conn, channel, st, version, None, data), data

    def _as_delta(self, st: Stream, prefix: int, size: int) -> bool:
        """Whether a version of ``size`` bytes keeping ``prefix`` is a delta.

        Loading a delta reads the whole chain: keep that within a bounded multiple
        of what loading a snapshot of the new bytes would cost.
        """
        row_cost = self.delta_row_cost
        chain_cost = st.chain_bytes + size - prefix + row_cost * (st.chain_rows + 1)
        return (
            prefix >= self.delta_min_prefix
            and chain_cost <= self.delta_cost_factor * (size + row_cost)
        )

    # -------------------------------------------------------------------- load

    async def _load(
        self, query: str, params: tuple[str, ...], thread_id: str
    ) -> Checkpoint | None:
        def read(
            conn: sqlite3.Connection,
        ) -> tuple[tuple[Any, ...], Body, dict[int, Row]] | None:
            # One read snapshot for the row and its blobs.
            row = conn.execute(query, params).fetchone()
            if row is None:
                return None
            row = typed_row(thread_id, row, ROW_TYPES)
            body = checked_body(thread_id, row)
            return row, body, fetch_chains(conn, body.channels)

        found = await self._db.acall("load", read)
        if found is None:
            return None
        (checkpoint_id, run_id, step_index, _, _, _, schema, graph, key), body, rows = (
            found
        )
        if len(self._thread_rows) < _MAX_THREAD_ROWS:  # committed, never changed
            self._thread_rows[thread_id] = (key, schema, graph)
        global_data = inline_data(body.inline, body.channels, checkpoint_id)
        for ref in body.channels:
            global_data[ref.channel] = rebuild(ref, rows, checkpoint_id)
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
            global_data=global_data,
            frontier=tuple(map(frontier_entry, body.frontier)),
            join_barriers=body.join_barriers,
            interruption=body.interruption,
        )

    # ------------------------------------------------------------- diagnostics

    def storage_stats(self) -> dict[str, int]:
        """Row and byte counts, for benchmarks and curiosity."""

        return self._db.call("storage_stats", storage_stats)


def _matches(st: Stream | None, token: StreamToken) -> bool:
    """Whether the stream row is exactly as the writer's last save left it."""
    return (
        st is not None
        and st.stream == token.stream
        and st.head == token.head
        and st.snapshot == token.snapshot
        and st.chain_bytes == token.chain_bytes
        and st.chain_rows == token.chain_rows
    )
