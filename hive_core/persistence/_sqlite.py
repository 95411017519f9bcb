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
    ``(channel, stream, version, snapshot)`` into the blob table.
``hive_checkpoint_streams``
    One row per ``(thread, channel)``: the current head version of that channel's
    version chain and what the writer needs to choose delta or snapshot.
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

Concurrency: one connection per store object, opened with
``check_same_thread=False`` and guarded by a lock, so a store may be shared between
threads (its calls run one at a time). Several store objects (threads or processes)
may open the same file: in WAL mode readers never block each other or the writer,
and writers queue for up to ``timeout`` seconds.

Nothing is ever unpickled: rows are decoded with msgspec into fixed types, so a
crafted file can at worst raise :class:`~hive_core.errors.CheckpointDecodeError` or
:class:`~hive_core.errors.CheckpointCorruptError`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import ClassVar, Final, Literal

import msgspec

from ..errors import (
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointEncodeError,
    CheckpointError,
)
from ._chains import (
    MAX_STREAM,
    MAX_VERSION,
    ChannelRef,
    HeadCache,
    Row,
    blob_key,
    common_prefix,
    key_range,
    rebuild,
    row_crc,
)
from ._format import (
    Checkpoint,
    CheckpointInterruption,
    CheckpointSummary,
    FrontierEntry,
)

__all__ = ["STORE_SCHEMA_VERSION", "SQLiteCheckpointStore"]

STORE_SCHEMA_VERSION: Final = "1"
"""Version of the table layout; a file with another version is refused."""

_UNION_CHUNK: Final = 200
"""Channels per blob query (SQLite allows 500 compound terms by default)."""

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_meta (
        name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_threads (
        thread INTEGER PRIMARY KEY, thread_id TEXT NOT NULL UNIQUE,
        schema_version TEXT NOT NULL, graph_version TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoints (
        thread INTEGER NOT NULL, checkpoint_id TEXT NOT NULL,
        step_index INTEGER NOT NULL, run_id TEXT NOT NULL,
        has_interruption INTEGER NOT NULL, body BLOB NOT NULL,
        UNIQUE (thread, checkpoint_id))""",
    """CREATE INDEX IF NOT EXISTS hive_checkpoints_latest
        ON hive_checkpoints (thread, step_index DESC, checkpoint_id DESC)""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_streams (
        stream INTEGER PRIMARY KEY, thread INTEGER NOT NULL, channel TEXT NOT NULL,
        head INTEGER NOT NULL, snapshot INTEGER NOT NULL,
        chain_bytes INTEGER NOT NULL, chain_rows INTEGER NOT NULL,
        UNIQUE (thread, channel))""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_blobs (
        key INTEGER PRIMARY KEY, prefix INTEGER, crc INTEGER NOT NULL,
        data BLOB NOT NULL)""",
)

_THREAD_KEY = (
    "SELECT thread, schema_version, graph_version FROM hive_checkpoint_threads "
    "WHERE thread_id = ?"
)
_INSERT_THREAD = (
    "INSERT INTO hive_checkpoint_threads (thread_id, schema_version, graph_version) "
    "VALUES (?, ?, ?)"
)
_ROW_COLUMNS = (
    "c.checkpoint_id, c.run_id, c.step_index, c.body, t.schema_version, t.graph_version"
)
_SELECT_LATEST = (
    f"SELECT {_ROW_COLUMNS} FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread "
    "WHERE t.thread_id = ? ORDER BY c.step_index DESC, c.checkpoint_id DESC LIMIT 1"
)
_SELECT_ONE = (
    f"SELECT {_ROW_COLUMNS} FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread "
    "WHERE t.thread_id = ? AND c.checkpoint_id = ?"
)
_SELECT_SUMMARIES = (
    "SELECT c.checkpoint_id, c.run_id, c.step_index, c.has_interruption "
    "FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread "
    "WHERE t.thread_id = ? ORDER BY c.step_index DESC, c.checkpoint_id DESC LIMIT ?"
)
_THREAD_EXISTS = (
    "SELECT EXISTS (SELECT 1 FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread WHERE t.thread_id = ?)"
)
_SELECT_STREAMS = (
    "SELECT channel, stream, head, snapshot, chain_bytes, chain_rows "
    "FROM hive_checkpoint_streams WHERE thread = ?"
)
_INSERT_STREAM = (
    "INSERT INTO hive_checkpoint_streams "
    "(thread, channel, head, snapshot, chain_bytes, chain_rows) "
    "VALUES (?, ?, 0, 0, 0, 0)"
)
_UPDATE_STREAM = (
    "UPDATE hive_checkpoint_streams SET head = ?, snapshot = ?, "
    "chain_bytes = ?, chain_rows = ? WHERE stream = ?"
)
_INSERT_BLOB = (
    "INSERT INTO hive_checkpoint_blobs (key, prefix, crc, data) VALUES (?, ?, ?, ?)"
)
_BLOB_RANGE = (
    "SELECT key, prefix, crc, data FROM hive_checkpoint_blobs WHERE key BETWEEN ? AND ?"
)
_UPSERT_CHECKPOINT = (
    "INSERT INTO hive_checkpoints "
    "(thread, checkpoint_id, step_index, run_id, has_interruption, body) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (thread, checkpoint_id) DO UPDATE SET "
    "step_index = excluded.step_index, run_id = excluded.run_id, "
    "has_interruption = excluded.has_interruption, body = excluded.body"
)


class _Body(msgspec.Struct, array_like=True, frozen=True):
    """Every ``Checkpoint`` field that is not a column, minus ``global_data``.

    A test pins ``Checkpoint``'s fields, so a new one cannot be dropped silently.
    """

    format_version: int
    schema_version: str | None
    """``None``: the same as the thread's first checkpoint (kept on its row)."""
    graph_version: str | None
    frontier: tuple[FrontierEntry, ...]
    join_barriers: dict[str, tuple[str, ...]]
    interruption: CheckpointInterruption | None
    channels: tuple[ChannelRef, ...]


_encode_body = msgspec.msgpack.Encoder(order="deterministic").encode
_decode_body = msgspec.msgpack.Decoder(_Body).decode


class _Stream(msgspec.Struct, frozen=True):
    """A stream row, as read inside a save transaction."""

    stream: int
    head: int
    """The newest version."""
    snapshot: int
    """The snapshot version that the head's chain starts from."""
    chain_bytes: int
    """Bytes of the head's chain: the snapshot plus every delta after it."""
    chain_rows: int
    fresh: bool = False
    """Created by this transaction: it has no versions yet."""


def _as_bytes(channel: str, value: object) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise CheckpointEncodeError(
        channel, reason=f"global_data holds {type(value).__name__}, not bytes"
    )


class SQLiteCheckpointStore:
    """A persistent :class:`~hive_core.persistence.CheckpointStore` in one SQLite file.

    ``SQLiteCheckpointStore("hive.db")`` or ``SQLiteCheckpointStore(":memory:")``;
    close it (or use it as a context manager) when done. Every method runs
    synchronously inside its ``async def`` (``inline = True``), so ``run_sync`` needs
    no event loop. A ``save`` is one transaction; storage grows with what changed,
    not with the size of the state (see the module docstring).
    """

    inline: ClassVar[bool] = True
    """No method ever awaits a real future: usable by ``run_sync``."""

    delta_min_prefix: int = 64
    """A delta must reuse at least this many leading bytes of the previous version."""
    delta_row_cost: int = 1024
    """What reading one chain row costs, in bytes (measured: a row ~1.5 µs, a byte
    ~1 ns; the lower figure favours deltas, i.e. smaller files)."""
    delta_cost_factor: int = 4
    """A chain may cost at most this many times what loading a snapshot costs."""
    head_cache_bytes: int = 32 * 1024 * 1024
    """Memory for the newest bytes of recently written streams."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 5.0,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(
                f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}"
            )
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        self._heads = HeadCache(self.head_cache_bytes)
        self._closed = False
        self._conn = sqlite3.connect(
            self._path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            self._setup(synchronous)
        except BaseException:
            self._conn.close()
            raise

    def _setup(self, synchronous: str) -> None:
        conn = self._conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")  # one of two literals
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(
                "INSERT OR IGNORE INTO hive_checkpoint_meta (name, value) "
                "VALUES ('schema_version', ?)",
                (STORE_SCHEMA_VERSION,),
            )
            row = conn.execute(
                "SELECT value FROM hive_checkpoint_meta WHERE name = 'schema_version'"
            ).fetchone()
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if row is None or row[0] != STORE_SCHEMA_VERSION:
            found = "none" if row is None else repr(row[0])
            raise CheckpointCorruptError(
                "hive_checkpoint_meta.schema_version",
                reason=f"{self._path}: store layout {found}, this version reads "
                f"{STORE_SCHEMA_VERSION!r}",
            )

    # ----------------------------------------------------------------- lifecycle

    @property
    def path(self) -> str:
        """The database file this store was opened on (or ``":memory:"``)."""
        return self._path

    @property
    def pragmas(self) -> dict[str, str]:
        """``journal_mode`` and ``synchronous`` as SQLite reports them."""
        with self._lock:
            self._check_open("pragmas")
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            sync = self._conn.execute("PRAGMA synchronous").fetchone()[0]
        names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        return {"journal_mode": str(mode), "synchronous": names.get(sync, str(sync))}

    def close(self) -> None:
        """Close the connection. Idempotent; later calls raise ``CheckpointError``."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._heads.clear()
                self._conn.close()

    def __enter__(self) -> SQLiteCheckpointStore:
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
            raise CheckpointError(
                f"SQLiteCheckpointStore({self._path!r}) is closed; cannot {operation}"
            )

    # ------------------------------------------------------------- the protocol

    async def save(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` atomically; the same (thread, id) is overwritten."""
        self._save(checkpoint)

    async def load_latest(self, thread_id: str) -> Checkpoint | None:
        """Greatest ``step_index``, ties to the greatest id; ``None`` if no thread."""
        return self._load(_SELECT_LATEST, (thread_id,), thread_id)

    async def list_checkpoints(
        self, thread_id: str, limit: int | None = None
    ) -> list[CheckpointSummary]:
        """Newest first (step index, then id, both descending)."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0 or None, not {limit}")
        with self._lock:
            self._check_open("list_checkpoints")
            rows = self._conn.execute(
                _SELECT_SUMMARIES, (thread_id, -1 if limit is None else limit)
            ).fetchall()
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

    async def load_checkpoint(
        self, thread_id: str, checkpoint_id: str
    ) -> Checkpoint | None:
        """The checkpoint with that id in that thread, or ``None``."""
        return self._load(_SELECT_ONE, (thread_id, checkpoint_id), thread_id)

    async def thread_exists(self, thread_id: str) -> bool:
        with self._lock:
            self._check_open("thread_exists")
            (found,) = self._conn.execute(_THREAD_EXISTS, (thread_id,)).fetchone()
        return bool(found)

    # -------------------------------------------------------------------- save

    def _save(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            self._check_open("save")
            conn = self._conn
            cached: list[tuple[int, int, bytes]] = []
            conn.execute("BEGIN IMMEDIATE")
            try:
                thread, schema_version, graph_version = self._thread_key(checkpoint)
                streams = {
                    channel: _Stream(*rest)
                    for channel, *rest in conn.execute(_SELECT_STREAMS, (thread,))
                }
                refs = []
                for channel in sorted(checkpoint.global_data):
                    data = _as_bytes(channel, checkpoint.global_data[channel])
                    stream = streams.get(channel)
                    if stream is None:
                        stream = self._new_stream(thread, channel)
                    ref = self._write_version(channel, stream, data)
                    refs.append(ref)
                    cached.append((ref.stream, ref.version, data))
                body = _encode_body(
                    _Body(
                        format_version=checkpoint.format_version,
                        schema_version=None
                        if checkpoint.schema_version == schema_version
                        else checkpoint.schema_version,
                        graph_version=None
                        if checkpoint.graph_version == graph_version
                        else checkpoint.graph_version,
                        frontier=tuple(checkpoint.frontier),
                        join_barriers=dict(checkpoint.join_barriers),
                        interruption=checkpoint.interruption,
                        channels=tuple(refs),
                    )
                )
                conn.execute(
                    _UPSERT_CHECKPOINT,
                    (
                        thread,
                        checkpoint.id,
                        checkpoint.step_index,
                        checkpoint.run_id,
                        int(checkpoint.interruption is not None),
                        body,
                    ),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            for stream_key, version, data in cached:
                self._heads.put(stream_key, version, data)

    def _thread_key(self, checkpoint: Checkpoint) -> tuple[int, str, str]:
        """The thread's key and versions, creating its row on the first save."""
        conn = self._conn
        row = conn.execute(_THREAD_KEY, (checkpoint.thread_id,)).fetchone()
        if row is not None:
            return int(row[0]), str(row[1]), str(row[2])
        versions = (checkpoint.schema_version, checkpoint.graph_version)
        cursor = conn.execute(_INSERT_THREAD, (checkpoint.thread_id, *versions))
        return int(cursor.lastrowid or 0), *versions

    def _new_stream(self, thread: int, channel: str) -> _Stream:
        cursor = self._conn.execute(_INSERT_STREAM, (thread, channel))
        key = int(cursor.lastrowid or 0)
        if key > MAX_STREAM:
            raise CheckpointError(f"too many channel streams in one store ({key})")
        return _Stream(key, 0, 0, 0, 0, fresh=True)

    def _write_version(self, channel: str, st: _Stream, data: bytes) -> ChannelRef:
        """Reuse the stream head, or append a delta or a snapshot after it."""
        if st.fresh:
            return self._append(channel, st, 0, None, data)
        head = self._heads.get(st.stream, st.head)
        if head is None:
            head = self._read_chain(
                ChannelRef(channel, st.stream, st.head, st.snapshot)
            )
        if head == data:
            return ChannelRef(channel, st.stream, st.head, st.snapshot)
        prefix = common_prefix(head, data)
        # Loading a delta reads the whole chain: keep that within a bounded multiple
        # of what loading a snapshot of the new bytes would cost.
        row_cost = self.delta_row_cost
        chain_cost = (
            st.chain_bytes + len(data) - prefix + row_cost * (st.chain_rows + 1)
        )
        as_delta = (
            prefix >= self.delta_min_prefix
            and chain_cost <= self.delta_cost_factor * (len(data) + row_cost)
        )
        return self._append(
            channel, st, st.head + 1, prefix if as_delta else None, data
        )

    def _append(
        self, channel: str, st: _Stream, version: int, prefix: int | None, data: bytes
    ) -> ChannelRef:
        """Insert version ``version`` (a snapshot if ``prefix`` is None)."""
        if version > MAX_VERSION:
            raise CheckpointError(f"channel `{channel}` has too many versions")
        if prefix is None:
            stored, snapshot = data, version
            chain_bytes, chain_rows = len(data), 1
        else:
            stored, snapshot = data[prefix:], st.snapshot
            chain_bytes, chain_rows = st.chain_bytes + len(stored), st.chain_rows + 1
        self._conn.execute(
            _INSERT_BLOB,
            (blob_key(st.stream, version), prefix, row_crc(prefix, stored), stored),
        )
        self._conn.execute(
            _UPDATE_STREAM, (version, snapshot, chain_bytes, chain_rows, st.stream)
        )
        return ChannelRef(channel, st.stream, version, snapshot)

    # -------------------------------------------------------------------- load

    def _load(
        self, query: str, params: tuple[str, ...], thread_id: str
    ) -> Checkpoint | None:
        with self._lock:
            self._check_open("load")
            conn = self._conn
            conn.execute("BEGIN")  # one read snapshot for the row and its blobs
            try:
                row = conn.execute(query, params).fetchone()
                if row is None:
                    return None
                checkpoint_id, run_id, step_index, raw, schema, graph = row
                body = self._decode_body(checkpoint_id, raw)
                rows = self._fetch_chains(body.channels)
            finally:
                conn.execute("COMMIT")
        global_data = {
            ref.channel: rebuild(ref, rows, checkpoint_id) for ref in body.channels
        }
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
            frontier=body.frontier,
            join_barriers=body.join_barriers,
            interruption=body.interruption,
        )

    @staticmethod
    def _decode_body(checkpoint_id: str, raw: object) -> _Body:
        if not isinstance(raw, bytes):
            raise CheckpointDecodeError(
                "checkpoint",
                checkpoint_id=checkpoint_id,
                reason=f"body is {type(raw).__name__}, not a blob",
            )
        try:
            return _decode_body(raw)
        except msgspec.DecodeError as exc:
            raise CheckpointDecodeError(
                "checkpoint", checkpoint_id=checkpoint_id, reason=str(exc)
            ) from None

    def _fetch_chains(self, refs: Sequence[ChannelRef]) -> dict[int, Row]:
        """Every blob row the refs need: one query per ``_UNION_CHUNK`` channels."""
        found: dict[int, Row] = {}
        for start in range(0, len(refs), _UNION_CHUNK):
            chunk = refs[start : start + _UNION_CHUNK]
            sql = " UNION ALL ".join([_BLOB_RANGE] * len(chunk))
            params: list[int] = []
            for ref in chunk:
                params += key_range(ref)
            for key, prefix, crc, data in self._conn.execute(sql, params):
                found[key] = (prefix, crc, data)
        return found

    def _read_chain(self, ref: ChannelRef) -> bytes:
        low, high = key_range(ref)
        rows = {
            key: (prefix, crc, data)
            for key, prefix, crc, data in self._conn.execute(_BLOB_RANGE, (low, high))
        }
        return rebuild(ref, rows, "")

    # ------------------------------------------------------------- diagnostics

    def storage_stats(self) -> dict[str, int]:
        """Row and byte counts, for benchmarks and curiosity."""
        with self._lock:
            self._check_open("storage_stats")
            conn = self._conn
            checkpoints, body_bytes = conn.execute(
                "SELECT count(*), coalesce(sum(length(body)), 0) FROM hive_checkpoints"
            ).fetchone()
            snapshots, snapshot_bytes = conn.execute(
                "SELECT count(*), coalesce(sum(length(data)), 0) "
                "FROM hive_checkpoint_blobs WHERE prefix IS NULL"
            ).fetchone()
            deltas, delta_bytes = conn.execute(
                "SELECT count(*), coalesce(sum(length(data)), 0) "
                "FROM hive_checkpoint_blobs WHERE prefix IS NOT NULL"
            ).fetchone()
        return {
            "checkpoints": checkpoints,
            "body_bytes": body_bytes,
            "snapshots": snapshots,
            "snapshot_bytes": snapshot_bytes,
            "deltas": deltas,
            "delta_bytes": delta_bytes,
        }
