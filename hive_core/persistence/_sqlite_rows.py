"""The SQLite checkpoint store's tables, statements and row codecs.

What ``_sqlite.py`` reads and writes, kept apart from the store's control flow: the
layout is described in that module's docstring and in
``docs/concepts/checkpoint-storage.md``. Every loaded column is type-checked and
every body CRC-checked here before anything is decoded.
"""

from __future__ import annotations

import functools
import sqlite3
import uuid
import zlib
from collections.abc import Sequence
from typing import Any, Final, Literal, TypeAlias

import msgspec

from ..errors import (
    CheckpointCorruptError,
    CheckpointDecodeError,
    CheckpointEncodeError,
    CheckpointError,
)
from ._chains import MAX_VERSION, ChannelRef, Row, blob_key, key_range, rebuild, row_crc
from ._fence import UNFENCED, ExpectedLatest, fence
from ._format import Checkpoint, CheckpointInterruption, FrontierEntry

__all__ = [
    "BLOB_RANGE",
    "Body",
    "EntryRow",
    "FENCED_STREAMS",
    "FENCED_UPSERT",
    "INSERT_BLOB",
    "INSERT_STREAM",
    "INSERT_THREAD",
    "META_EXISTS",
    "META_VERSION",
    "ROW_COLUMNS",
    "ROW_TYPES",
    "SCHEMA",
    "SCHEMA_OBJECTS",
    "SELECT_LATEST",
    "SELECT_ONE",
    "SELECT_STREAMS",
    "SELECT_SUMMARIES",
    "SQL_TYPES",
    "Stream",
    "THREAD_EXISTS",
    "THREAD_KEY",
    "UNION_CHUNK",
    "UPDATE_STREAM",
    "UPSERT_CHECKPOINT",
    "append_version",
    "as_bytes",
    "body_crc",
    "checked_body",
    "checkpoint_row",
    "decode_body",
    "delete_thread_rows",
    "encode_body",
    "entry_row",
    "fenced_streams",
    "fetch_chains",
    "frontier_entry",
    "keyed_table",
    "read_chain",
    "storage_stats",
    "stored_run_id",
    "typed_row",
]

UNION_CHUNK: Final = 200
"""Channels per blob query (SQLite allows 500 compound terms by default)."""

SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_meta (
        name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_threads (
        thread INTEGER PRIMARY KEY, thread_id TEXT NOT NULL UNIQUE,
        schema_version TEXT NOT NULL, graph_version TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoints (
        thread INTEGER NOT NULL, checkpoint_id TEXT NOT NULL,
        step_index INTEGER NOT NULL, run_id TEXT NOT NULL,
        has_interruption INTEGER NOT NULL, body BLOB NOT NULL,
        body_crc INTEGER NOT NULL, PRIMARY KEY (thread, step_index, checkpoint_id),
        UNIQUE (thread, checkpoint_id)) WITHOUT ROWID""",
    # Keyed by (thread, step_index, checkpoint_id): a save appends to the table's
    # own b-tree, and "latest" and listings read it backwards without a sort, so no
    # separate latest index is kept and a commit writes two pages, not three. Files
    # created before keep a rowid table with a `hive_checkpoints_latest` index on
    # (thread, step_index); every statement here reads and writes both shapes
    # (docs/concepts/checkpoint-storage.md, Layout).
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_streams (
        stream INTEGER PRIMARY KEY, thread INTEGER NOT NULL, channel TEXT NOT NULL,
        head INTEGER NOT NULL, snapshot INTEGER NOT NULL,
        chain_bytes INTEGER NOT NULL, chain_rows INTEGER NOT NULL,
        UNIQUE (thread, channel))""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_blobs (
        key INTEGER PRIMARY KEY, prefix INTEGER, crc INTEGER NOT NULL,
        data BLOB NOT NULL)""",
)

THREAD_KEY = (
    "SELECT thread, schema_version, graph_version FROM hive_checkpoint_threads "
    "WHERE thread_id = ?"
)
INSERT_THREAD = (
    "INSERT INTO hive_checkpoint_threads (thread_id, schema_version, graph_version) "
    "VALUES (?, ?, ?)"
)
ROW_COLUMNS = (
    "c.checkpoint_id, c.run_id, c.step_index, c.has_interruption, c.body, "
    "c.body_crc, t.schema_version, t.graph_version, t.thread"
)
ROW_TYPES: Final = (
    ("checkpoint_id", str),
    ("run_id", str),
    ("step_index", int),
    ("has_interruption", int),
    ("body", bytes),
    ("body_crc", int),
    ("schema_version", str),
    ("graph_version", str),
    ("thread", int),
)
"""The SQL type each loaded column must have (a tampered row may hold any); the
last, the thread's key, lets a load remember the thread's row for its saves."""
SQL_TYPES: Final = {str: "text", int: "an integer", bytes: "a blob", float: "real"}
SELECT_LATEST = (
    f"SELECT {ROW_COLUMNS} FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread "
    "WHERE t.thread_id = ? ORDER BY c.step_index DESC, c.checkpoint_id DESC LIMIT 1"
)
SELECT_ONE = (
    f"SELECT {ROW_COLUMNS} FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread "
    "WHERE t.thread_id = ? AND c.checkpoint_id = ?"
)
SELECT_SUMMARIES = (
    "SELECT c.checkpoint_id, c.run_id, c.step_index, c.has_interruption "
    "FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread "
    "WHERE t.thread_id = ? ORDER BY c.step_index DESC, c.checkpoint_id DESC LIMIT ?"
)
THREAD_EXISTS = (
    "SELECT EXISTS (SELECT 1 FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread WHERE t.thread_id = ?)"
)
SELECT_STREAMS = (
    "SELECT channel, stream, head, snapshot, chain_bytes, chain_rows "
    "FROM hive_checkpoint_streams WHERE thread = ?"
)
LATEST_ID: Final = (
    "SELECT checkpoint_id FROM hive_checkpoints WHERE thread = ? "
    "ORDER BY step_index DESC, checkpoint_id DESC LIMIT 1"
)
FENCED_STREAMS: Final = (
    f"SELECT NULL, ({LATEST_ID.replace('?', '?1')}), 0, 0, 0, 0 "
    f"UNION ALL {SELECT_STREAMS.replace('thread = ?', 'thread = ?1')}"
)
"""The thread's latest id (the row whose channel is NULL) and its stream rows, in
one statement: a fenced save reads both inside its transaction."""

INSERT_STREAM = (
    "INSERT INTO hive_checkpoint_streams "
    "(thread, channel, head, snapshot, chain_bytes, chain_rows) "
    "VALUES (?, ?, 0, 0, 0, 0)"
)
UPDATE_STREAM = (
    "UPDATE hive_checkpoint_streams SET head = ?, snapshot = ?, "
    "chain_bytes = ?, chain_rows = ? WHERE stream = ?"
)
INSERT_BLOB = (
    "INSERT INTO hive_checkpoint_blobs (key, prefix, crc, data) VALUES (?, ?, ?, ?)"
)
STREAMS_OF = "SELECT stream FROM hive_checkpoint_streams WHERE thread = ?"
DELETE_BLOBS = "DELETE FROM hive_checkpoint_blobs WHERE key BETWEEN ? AND ?"
RETIRE_STREAMS = "UPDATE hive_checkpoint_streams SET thread = -stream WHERE thread = ?"
DELETE_CHECKPOINTS = "DELETE FROM hive_checkpoints WHERE thread = ?"
BLOB_RANGE = (
    "SELECT key, prefix, crc, data FROM hive_checkpoint_blobs WHERE key BETWEEN ? AND ?"
)
UPSERT_CHECKPOINT = (
    "INSERT INTO hive_checkpoints "
    "(thread, checkpoint_id, step_index, run_id, has_interruption, body, body_crc) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (thread, checkpoint_id) DO UPDATE SET "
    "step_index = excluded.step_index, run_id = excluded.run_id, "
    "has_interruption = excluded.has_interruption, body = excluded.body, "
    "body_crc = excluded.body_crc"
)
FENCED_UPSERT: Final = UPSERT_CHECKPOINT.replace(
    "VALUES (?, ?, ?, ?, ?, ?, ?)",
    f"SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE ({LATEST_ID.replace('?', '?1')}) IS ?8",
)
"""``UPSERT_CHECKPOINT`` if the thread's latest id is ``?8`` when it runs (no row
otherwise): a save's fence and write in one statement, hence one transaction."""
KEYED_TABLE: Final = (
    "SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_master "
    "WHERE type = 'table' AND name = 'hive_checkpoints'"
)
META_EXISTS = (
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'hive_checkpoint_meta'"
)
SCHEMA_OBJECTS = (
    "SELECT count(*) FROM sqlite_master WHERE name IN ('hive_checkpoint_meta', "
    "'hive_checkpoint_threads', 'hive_checkpoints', "
    "'hive_checkpoint_streams', 'hive_checkpoint_blobs')"
)
"""Five when every table of ``SCHEMA`` exists (their indexes come with them)."""
META_VERSION = "SELECT value FROM hive_checkpoint_meta WHERE name = 'schema_version'"


EntryRow: TypeAlias = tuple[
    str, Literal["graph", "spawn"], bool, bytes, dict[str, bytes]
]
"""A frontier entry as layout 3 stores it: ``(node, provenance, is_join,
fingerprint, local)``, an array without the field names (42 bytes less per entry
than the map layout 2 wrote, which still loads)."""


def entry_row(entry: FrontierEntry) -> FrontierEntry | EntryRow:
    """The stored form of a frontier entry."""
    if type(entry) is not FrontierEntry:
        return entry  # a wrong type: encoding it fails as CheckpointEncodeError
    return (entry.node, entry.provenance, entry.is_join, entry.fingerprint, entry.local)


def frontier_entry(entry: FrontierEntry | EntryRow) -> FrontierEntry:
    """A stored entry of either layout as the ``Checkpoint`` field."""
    if isinstance(entry, FrontierEntry):
        return entry
    node, provenance, is_join, fp, local = entry
    return FrontierEntry(
        node=node, provenance=provenance, is_join=is_join, fingerprint=fp, local=local
    )


class Body(msgspec.Struct, array_like=True, frozen=True):
    """Every ``Checkpoint`` field that is not a column, minus ``global_data``.

    A test pins ``Checkpoint``'s fields, so a new one cannot be dropped silently.
    """

    format_version: int
    schema_version: str | None
    """``None``: the same as the thread's first checkpoint (kept on its row)."""
    graph_version: str | None
    frontier: tuple[FrontierEntry | EntryRow, ...]
    """Rows (:data:`EntryRow`) as written now; maps in files of layout 2."""
    join_barriers: dict[str, tuple[str, ...]]
    interruption: CheckpointInterruption | None
    channels: tuple[ChannelRef, ...]
    inline: tuple[tuple[str, bytes], ...] = ()
    """Channels whose bytes are at most :data:`~._chains.INLINE_BYTES`, kept in the body
    itself, sorted by channel (layout 4; earlier bodies have none)."""


encode_body = msgspec.msgpack.Encoder(order="deterministic").encode
decode_body = msgspec.msgpack.Decoder(Body).decode


def body_crc(
    thread_id: str,
    checkpoint_id: str,
    run_id: str,
    step_index: int,
    has_interruption: int,
    schema_version: str,
    graph_version: str,
    body: bytes,
) -> int:
    """CRC-32 of a stored body, seeded with the CRC of the row's other columns.

    Covering the columns too means a tampered step index or run id is caught like
    a flipped body bit; CRC-32 detects every error within 32 consecutive bits.
    """
    head = encode_body(
        (
            thread_id,
            checkpoint_id,
            run_id,
            step_index,
            has_interruption,
            schema_version,
            graph_version,
        )
    )
    return zlib.crc32(body, zlib.crc32(head))


class Stream(msgspec.Struct, frozen=True):
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


def as_bytes(channel: str, value: object) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise CheckpointEncodeError(
        channel, reason=f"global_data holds {type(value).__name__}, not bytes"
    )


# ------------------------------------------------------------------ row helpers


@functools.lru_cache(maxsize=64)
def stored_run_id(run_id: str) -> str | bytes:
    """The ``run_id`` column's value: a canonical UUID's 16 bytes (layout 3, 20
    bytes less per row than its text), any other id as text."""
    try:
        parsed = uuid.UUID(run_id)
    except ValueError:
        return run_id
    return parsed.bytes if str(parsed) == run_id else run_id


def typed_row(
    thread_id: str,
    row: Sequence[object],
    types: Sequence[tuple[str, type]],
) -> tuple[Any, ...]:
    """``row`` if each column has its SQL type, else ``CheckpointDecodeError``.

    A 16-byte ``run_id`` (:func:`stored_run_id`) is read back as its UUID text."""
    run_id = row[1]
    if type(run_id) is bytes and len(run_id) == 16:
        row = (row[0], str(uuid.UUID(bytes=run_id)), *row[2:])
    cid = row[0] if isinstance(row[0], str) else ""
    for value, (name, kind) in zip(row, types, strict=True):
        if type(value) is not kind:
            got = "NULL" if value is None else SQL_TYPES.get(type(value), "?")
            raise CheckpointDecodeError(
                "checkpoint" if name == "body" else f"hive_checkpoints.{name}",
                checkpoint_id=cid,
                reason=f"thread `{thread_id}`: `{name}` is {got}, not "
                f"{SQL_TYPES[kind]}" + (" (not a blob)" if name == "body" else ""),
            )
    return tuple(row)


def checked_body(thread_id: str, row: tuple[Any, ...]) -> Body:
    """The row's body, after its CRC matched."""
    checkpoint_id, run_id, step, flag, raw, crc, schema, graph = row[:8]
    expected = body_crc(
        thread_id, checkpoint_id, run_id, step, flag, schema, graph, raw
    )
    if crc != expected:
        raise CheckpointCorruptError(
            "body",
            checkpoint_id=checkpoint_id,
            thread_id=thread_id,
            reason="the body or a column of its row fails its CRC check "
            f"(stored {crc:#010x}, computed {expected:#010x})",
        )
    try:
        return decode_body(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CheckpointDecodeError(
            "checkpoint", checkpoint_id=checkpoint_id, reason=str(exc)
        ) from None


def append_version(
    conn: sqlite3.Connection,
    channel: str,
    st: Stream,
    version: int,
    prefix: int | None,
    stored: bytes,
) -> Stream:
    """Insert version ``version`` of a stream: a snapshot of ``stored`` if
    ``prefix`` is None, else a delta (the head's first ``prefix`` bytes, then
    ``stored``); returns the stream row as updated."""
    if version > MAX_VERSION:
        raise CheckpointError(f"channel `{channel}` has too many versions")
    if prefix is None:
        snapshot, chain_bytes, chain_rows = version, len(stored), 1
    else:
        snapshot = st.snapshot
        chain_bytes, chain_rows = st.chain_bytes + len(stored), st.chain_rows + 1
    conn.execute(
        INSERT_BLOB,
        (blob_key(st.stream, version), prefix, row_crc(prefix, stored), stored),
    )
    conn.execute(UPDATE_STREAM, (version, snapshot, chain_bytes, chain_rows, st.stream))
    return Stream(st.stream, version, snapshot, chain_bytes, chain_rows)


def checkpoint_row(
    checkpoint: Checkpoint,
    thread_row: tuple[int, str, str],
    refs: list[ChannelRef],
    inline: list[tuple[str, bytes]],
) -> tuple[int, str, int, str | bytes, int, bytes, int]:
    """``UPSERT_CHECKPOINT``'s parameters: the body (decoded again at once, so what
    is saved is known to load) and its CRC over the row's columns."""
    thread, schema_version, graph_version = thread_row
    try:
        body = encode_body(
            Body(
                format_version=checkpoint.format_version,
                schema_version=None
                if checkpoint.schema_version == schema_version
                else checkpoint.schema_version,
                graph_version=None
                if checkpoint.graph_version == graph_version
                else checkpoint.graph_version,
                frontier=tuple(map(entry_row, checkpoint.frontier)),
                join_barriers=dict(checkpoint.join_barriers),
                interruption=checkpoint.interruption,
                channels=tuple(refs),
                inline=tuple(inline),
            )
        )
        decode_body(body)
    except (TypeError, ValueError, OverflowError, msgspec.MsgspecError) as exc:
        raise CheckpointEncodeError("checkpoint", reason=str(exc)) from exc
    flag = int(checkpoint.interruption is not None)
    run_id, step = checkpoint.run_id, checkpoint.step_index
    crc = body_crc(
        checkpoint.thread_id,
        checkpoint.id,
        run_id,
        step,
        flag,
        schema_version,
        graph_version,
        body,
    )
    return thread, checkpoint.id, step, stored_run_id(run_id), flag, body, crc


def delete_thread_rows(
    conn: sqlite3.Connection, thread_id: str
) -> tuple[bool, list[int]]:
    """Delete a thread's checkpoints and channel versions (inside the caller's
    write transaction): whether it had checkpoints, and its retired streams.

    The thread row stays, and each stream row stays as a tombstone (``thread`` set
    to ``-stream``, which no thread key is): neither key is ever handed out again,
    so what another store object remembers of them (a thread row, a stream head's
    bytes) can never be taken for a new thread's (docs/persistence.md, "Deleting
    a thread")."""
    row = conn.execute(THREAD_KEY, (thread_id,)).fetchone()
    if row is None:
        return False, []
    thread = int(row[0])
    streams = [int(r[0]) for r in conn.execute(STREAMS_OF, (thread,))]
    for stream in streams:
        conn.execute(DELETE_BLOBS, (blob_key(stream, 0), blob_key(stream, MAX_VERSION)))
    conn.execute(RETIRE_STREAMS, (thread,))
    deleted = conn.execute(DELETE_CHECKPOINTS, (thread,)).rowcount
    return deleted > 0, streams


def keyed_table(conn: sqlite3.Connection) -> bool:
    """Whether the file's checkpoints table has the ``WITHOUT ROWID`` key."""
    row = conn.execute(KEYED_TABLE).fetchone()
    return row is not None and bool(row[0])


def storage_stats(conn: sqlite3.Connection) -> dict[str, int]:
    """Row and byte counts of checkpoints and blob versions."""
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


def fenced_streams(
    conn: sqlite3.Connection,
    checkpoint: Checkpoint,
    thread: int,
    expected: ExpectedLatest,
    *,
    streams: bool = True,
) -> dict[str, Stream]:
    """The thread's stream rows, after the fence held (one statement either way).

    ``streams=False``: the save writes no stream (every channel inline), so only
    the fence is read."""
    if not streams:
        if expected is not UNFENCED:
            row = conn.execute(LATEST_ID, (thread,)).fetchone()
            fence(checkpoint.thread_id, checkpoint.id, expected, row and row[0])
        return {}
    if expected is UNFENCED:
        rows = conn.execute(SELECT_STREAMS, (thread,)).fetchall()
    else:
        # Under BEGIN IMMEDIATE no other writer runs between check and write.
        rows = conn.execute(FENCED_STREAMS, (thread,)).fetchall()
        latest = next(row[1] for row in rows if row[0] is None)
        fence(checkpoint.thread_id, checkpoint.id, expected, latest)
    return {channel: Stream(*rest) for channel, *rest in rows if channel is not None}


def fetch_chains(
    conn: sqlite3.Connection, refs: Sequence[ChannelRef]
) -> dict[int, Row]:
    """Every blob row the refs need: one query per ``UNION_CHUNK`` channels."""
    found: dict[int, Row] = {}
    for start in range(0, len(refs), UNION_CHUNK):
        chunk = refs[start : start + UNION_CHUNK]
        sql = " UNION ALL ".join([BLOB_RANGE] * len(chunk))
        params: list[int] = []
        for ref in chunk:
            params += key_range(ref)
        for key, prefix, crc, data in conn.execute(sql, params):
            found[key] = (prefix, crc, data)
    return found


def read_chain(conn: sqlite3.Connection, ref: ChannelRef) -> bytes:
    low, high = key_range(ref)
    rows = {
        key: (prefix, crc, data)
        for key, prefix, crc, data in conn.execute(BLOB_RANGE, (low, high))
    }
    return rebuild(ref, rows, "")
