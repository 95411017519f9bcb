"""The SQL of the PostgreSQL checkpoint store: its layout and every statement.

Kept apart from the store's logic (``_postgres.py``); the layout is described in
``docs/concepts/checkpoint-storage.md`` and ``docs/persistence.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ._chains import MAX_VERSION, VERSION_BITS

__all__ = [
    "bigints",
    "byteas",
    "META",
    "SCHEMA",
    "TABLES",
    "THREAD",
    "THREAD_FOR_SAVE",
    "NEW_THREAD",
    "STREAMS",
    "NEW_STREAMS",
    "BLOBS",
    "WRITE",
    "WRITE_INLINE",
    "LATEST_ID",
    "ROW",
    "LATEST",
    "ONE",
    "SUMMARIES",
    "EXISTS",
    "LOCK_THREAD",
    "DELETE_THREAD",
]

META = (
    "CREATE TABLE IF NOT EXISTS hive_checkpoint_meta ("
    'name text COLLATE "C" PRIMARY KEY, value text NOT NULL)'
)
SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_threads (
        thread bigserial PRIMARY KEY, thread_id text COLLATE "C" NOT NULL UNIQUE,
        schema_version text NOT NULL, graph_version text NOT NULL,
        latest_step bigint, latest_id text COLLATE "C")""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoints (
        thread bigint NOT NULL, checkpoint_id text COLLATE "C" NOT NULL,
        step_index bigint NOT NULL, run_id text NOT NULL,
        has_interruption boolean NOT NULL, body bytea NOT NULL,
        PRIMARY KEY (thread, checkpoint_id))""",
    """CREATE INDEX IF NOT EXISTS hive_checkpoints_latest
        ON hive_checkpoints (thread, step_index DESC, checkpoint_id DESC)""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_streams (
        stream bigserial PRIMARY KEY, thread bigint NOT NULL,
        channel text COLLATE "C" NOT NULL, head bigint NOT NULL,
        snapshot bigint NOT NULL, chain_bytes bigint NOT NULL,
        chain_rows bigint NOT NULL, UNIQUE (thread, channel))""",
    """CREATE TABLE IF NOT EXISTS hive_checkpoint_blobs (
        key bigint PRIMARY KEY, prefix integer, crc bigint NOT NULL,
        data bytea NOT NULL)""",
)
TABLES: Final = (
    "hive_checkpoint_meta",
    "hive_checkpoint_threads",
    "hive_checkpoints",
    "hive_checkpoint_streams",
    "hive_checkpoint_blobs",
)

THREAD = (
    "SELECT thread, schema_version, graph_version FROM hive_checkpoint_threads "
    "WHERE thread_id = %s"
)
THREAD_FOR_SAVE: Final = THREAD + " FOR KEY SHARE"
"""``THREAD`` in a save's transaction: ``delete_thread`` (``FOR UPDATE``) waits for
the save to commit, so the stream and blob rows read next cannot vanish under it;
other writers' fences (no-key updates) are not blocked."""
NEW_THREAD = (
    "INSERT INTO hive_checkpoint_threads (thread_id, schema_version, graph_version) "
    "VALUES (%s, %s, %s) ON CONFLICT (thread_id) DO NOTHING"
)
STREAMS = (
    "SELECT channel, stream, head, snapshot, chain_bytes, chain_rows "
    "FROM hive_checkpoint_streams WHERE thread = %s"
)
NEW_STREAMS = (
    "INSERT INTO hive_checkpoint_streams "
    "(thread, channel, head, snapshot, chain_bytes, chain_rows) "
    "SELECT %s, c, -1, -1, 0, 0 FROM unnest(%s::text[]) AS c "
    "ON CONFLICT (thread, channel) DO NOTHING"
)
BLOBS = (
    "SELECT b.key, b.prefix, b.crc, b.data "
    "FROM unnest(%s::int8[], %s::int8[]) AS r(lo, hi) "
    "JOIN hive_checkpoint_blobs AS b ON b.key BETWEEN r.lo AND r.hi"
)
_LATEST: Final = """(
    SELECT l.step, l.id FROM (
        SELECT %(step)s::int8 AS step, %(id)s::text COLLATE "C" AS id
        UNION ALL
        SELECT t.latest_step, t.latest_id WHERE t.latest_id <> %(id)s
        UNION ALL
        (SELECT c.step_index, c.checkpoint_id FROM hive_checkpoints AS c
         WHERE t.latest_id = %(id)s AND t.latest_step > %(step)s::int8
            AND c.thread = t.thread AND c.checkpoint_id <> %(id)s
         ORDER BY c.step_index DESC, c.checkpoint_id DESC LIMIT 1)
    ) AS l ORDER BY l.step DESC, l.id DESC LIMIT 1)"""
"""The thread's latest checkpoint once this one is written: the greatest of it and
the old latest (a different checkpoint), or, when the old latest is this one
rewritten at a lower step, of it and every other checkpoint of the thread (that
branch's scan runs only then: its conditions on ``t`` are checked first)."""
_FENCE: Final = (
    """WITH fence AS (
    UPDATE hive_checkpoint_threads AS t
    SET (latest_step, latest_id) = """
    + _LATEST
    + """
    WHERE t.thread = %(thread)s
        AND (%(unfenced)s OR t.latest_id IS NOT DISTINCT FROM %(expected)s::text)
    RETURNING t.thread
)"""
)
_ROWS: Final = """, blobs AS (
    INSERT INTO hive_checkpoint_blobs (key, prefix, crc, data)
    SELECT b.* FROM fence, unnest(%(keys)s::int8[], %(prefixes)s::int4[],
        %(crcs)s::int8[], %(datas)s::bytea[]) AS b
), heads AS (
    UPDATE hive_checkpoint_streams AS s
    SET head = u.head, snapshot = u.snapshot, chain_bytes = u.chain_bytes,
        chain_rows = u.chain_rows
    FROM fence, unnest(%(streams)s::int8[], %(heads)s::int8[], %(snapshots)s::int8[],
        %(chain_bytes)s::int8[], %(chain_rows)s::int8[])
        AS u(stream, head, snapshot, chain_bytes, chain_rows)
    WHERE s.stream = u.stream
)"""
_CHECKPOINT: Final = """
INSERT INTO hive_checkpoints
    (thread, checkpoint_id, step_index, run_id, has_interruption, body)
SELECT fence.thread, %(id)s, %(step)s, %(run_id)s, %(flag)s, %(body)s FROM fence
ON CONFLICT (thread, checkpoint_id) DO UPDATE SET
    step_index = excluded.step_index, run_id = excluded.run_id,
    has_interruption = excluded.has_interruption, body = excluded.body"""
WRITE: Final = _FENCE + _ROWS + _CHECKPOINT
"""One save, fenced: the thread row's ``latest_*`` columns move (to the greatest
of the old latest and the new checkpoint; recomputed when the latest itself is
overwritten with a lower step) only if the thread's latest is the expected one,
and every other row is written only if that row moved. A concurrent writer blocks
on the thread row and re-checks the fence against the committed latest."""
WRITE_INLINE: Final = _FENCE + _CHECKPOINT
"""``WRITE`` for a save with no new blob and no moved stream head (every changed
channel inline in the body): the same fence and row, without the two empty
``unnest`` writes, whose planning and execution cost the server 10-20 µs a save
(``docs/persistence.md``, "Sizing")."""
LATEST_ID = "SELECT latest_id FROM hive_checkpoint_threads WHERE thread = %s"
ROW = (
    "SELECT c.checkpoint_id, c.run_id, c.step_index, c.body, t.schema_version, "
    "t.graph_version FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread WHERE t.thread_id = %s"
)
LATEST = ROW + " ORDER BY c.step_index DESC, c.checkpoint_id DESC LIMIT 1"
ONE = ROW + " AND c.checkpoint_id = %s"
SUMMARIES = (
    "SELECT c.checkpoint_id, c.run_id, c.step_index, c.has_interruption "
    "FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread WHERE t.thread_id = %s "
    "ORDER BY c.step_index DESC, c.checkpoint_id DESC LIMIT %s"
)
EXISTS = (
    "SELECT EXISTS (SELECT 1 FROM hive_checkpoints AS c "
    "JOIN hive_checkpoint_threads AS t ON t.thread = c.thread WHERE t.thread_id = %s)"
)

LOCK_THREAD: Final = (
    "SELECT thread FROM hive_checkpoint_threads WHERE thread_id = %s FOR UPDATE"
)
"""``delete_thread``'s first statement: a save in flight holds the thread row (its
fence updates it) until it commits, so the delete that follows sees its rows."""
DELETE_THREAD: Final = f"""WITH s AS (
    DELETE FROM hive_checkpoint_streams WHERE thread = %(thread)s RETURNING stream
), b AS (
    DELETE FROM hive_checkpoint_blobs AS b USING s
    WHERE b.key BETWEEN s.stream << {VERSION_BITS}
        AND (s.stream << {VERSION_BITS}) + {MAX_VERSION}
), c AS (
    DELETE FROM hive_checkpoints WHERE thread = %(thread)s RETURNING 1
), t AS (
    DELETE FROM hive_checkpoint_threads WHERE thread = %(thread)s
)
SELECT (SELECT count(*) FROM c), ARRAY(SELECT stream FROM s)"""
"""A locked thread's rows, all of them, in one statement (every data-modifying
``WITH`` runs to completion whether or not the query reads it). Thread and stream
keys are ``bigserial``, never handed out again: another store object's memory of
them turns stale, never wrong (``PostgresCheckpointStore._write``). A save waiting
on the thread row then finds it gone and runs again on the current rows."""


def bigints(values: Sequence[Any]) -> str:
    """An ``int8[]`` (or ``int4[]``) literal of ints and ``None``, for a
    ``%s::int8[]`` parameter.

    Sent as one ``unknown``-typed string the server parses: psycopg's own list
    adaptation inspects every element on every call, and cost more client CPU per
    save than building these strings (measured in ``docs/persistence.md``,
    "The save path: earlier measurements"). The values are the planner's ints, never caller text."""
    return "{" + ",".join(["NULL" if v is None else str(v) for v in values]) + "}"


def byteas(values: Sequence[Any]) -> str:
    """A ``bytea[]`` literal of hex elements (``{"\\\\x0a1b"}``), like :func:`bigints`."""
    return "{" + ",".join(['"\\\\x' + v.hex() + '"' for v in values]) + "}"
